"""Named presets: `ci` (seconds), `quickstart` (CPU minutes), `paper` and `thesis` (the sources' scale, GPU)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from headsynth.config.schema import (
    EvaluationConfig,
    FaceModelConfig,
    GenerativeConfig,
    HeadsynthConfig,
    RenderConfig,
    SamplingConfig,
    TrainingConfig,
    VariabilityConfig,
)
from headsynth.core.errors import ConfigError


def ci_preset() -> HeadsynthConfig:
    """Tiny: the whole pipeline in about half a minute, still beating the naive predictor."""
    return HeadsynthConfig(
        preset="ci",
        face_model=FaceModelConfig(shape_components=4, texture_components=4),
        sampling=SamplingConfig(num_train=256, num_eval=64),
        rendering=RenderConfig(scenario="angle", image_size=32, batch_size=32, num_shards=2),
        training=TrainingConfig(
            backbone="tiny_cnn", batch_size=16, train_steps=200, eval_steps=4, steps_per_epoch=50
        ),
        # The real-photo evaluation (~10 s) is left to its own tests and to the other presets: the
        # ci preset runs in many pipeline tests on CI's 2 cores.
        evaluation=EvaluationConfig(
            saliency_examples=2, identity_examples=6, identity_image_size=128, real_photos=""
        ),
        generative=GenerativeConfig(
            gmm_components=(1, 2, 4),
            cgan_steps=50,
            study_gmm_components=(1, 4),
            study_num_train=64,
            study_train_steps=20,
            study_test_identities=12,
            study_renders_per_identity=1,
            study_real_photos=False,
        ),
    )


def quickstart_preset() -> HeadsynthConfig:
    """A few minutes on 2 CPU cores: a regressor that reads real photos, from synthetic renders only.

    The renders vary as portraits do (`portrait`: pose, light, colour
    temperature, backgrounds, hair proxies, expressions) and are cropped
    around the face by the detector that crops photos; a frozen face network
    trained on real faces (mediapipe's face mesh, with the crop's colours)
    computes features once, and the thesis's head learns q from them.
    """
    return HeadsynthConfig(
        preset="quickstart",
        face_model=FaceModelConfig(shape_components=8, texture_components=8),
        sampling=SamplingConfig(num_train=8000, num_eval=500),
        rendering=RenderConfig(
            scenario="portrait", image_size=128, framing="face", batch_size=32, num_shards=4
        ),
        training=TrainingConfig(
            backbone="facemesh_colour",
            head="mlp",
            stem_mode="frozen",
            cache_stem_features=True,
            base_learning_rate=3e-4,
            lr_gamma=0.0,
            batch_size=64,
            train_steps=1500,
            steps_per_epoch=250,
        ),
        evaluation=EvaluationConfig(saliency_examples=4, identity_examples=48),
        # The paper's experiment, scaled to an hour on 2 CPU cores: 4,000 renders per scenario let the
        # networks memorise their data (validation error 10x the training error), 20,000 do not; 12
        # networks (4 scenarios x 3 seeds) of 2000 steps fit the hour at 48x48, not at 64x64.
        variability=VariabilityConfig(
            num_train=20_000,
            image_size=48,
            backbone="small_cnn",
            base_learning_rate=1e-3,
            train_steps=2000,
            batch_size=32,
            steps_per_epoch=250,
            seeds=3,
        ),
        # The samplers study trains 8 samplers x 3 seeds = 24 networks: fewer examples and steps
        # each, a tiny CNN (~80 ms a step of 64 on 2 cores), so that it fits the hour.
        generative=GenerativeConfig(
            study_num_train=2500,
            study_train_steps=1200,
            study_backbone="tiny_cnn",
            study_image_size=64,
            study_seeds=3,
        ),
    )


def paper_preset() -> HeadsynthConfig:
    """The paper's scale: ~200k images at 224x224, ResNet-50, 1M SGD steps (GPU)."""
    return HeadsynthConfig(
        preset="paper",
        face_model=FaceModelConfig(shape_components=18, texture_components=18),
        sampling=SamplingConfig(num_train=200_000, num_eval=2000),
        rendering=RenderConfig(
            scenario="all",
            image_size=224,
            batch_size=64,
            num_shards=256,
            beam_args=("--direct_running_mode=multi_processing", "--direct_num_workers=0"),
        ),
        training=TrainingConfig(
            # The paper fine-tunes Caffe's ImageNet ResNet-50: weights through Keras
            # when online, or --set training.stem_weights=/path/to/weights.
            backbone="resnet50",
            stem_weights="imagenet",
            head="linear",
            optimizer="sgd",
            base_learning_rate=1e-4,
            lr_gamma=0.1,
            lr_power=0.75,
            batch_size=32,
            train_steps=1_000_000,
            eval_steps=100,
            steps_per_epoch=10_000,
        ),
        evaluation=EvaluationConfig(saliency_examples=4, identity_examples=500),
    )


def thesis_preset() -> HeadsynthConfig:
    """The thesis's regressor and data (its Section 5.5.1): a frozen ImageNet WRN-50-2 stem, 3x200
    leaky-ReLU head, tanh output; 10,000 identities rendered 10 times each under varying pose,
    expression, light and background, cropped by the face detector and scaled to 224; all 50 + 50
    components."""
    paper = paper_preset()
    return dataclasses.replace(
        paper,
        preset="thesis",
        face_model=FaceModelConfig(shape_components=50, texture_components=50),
        sampling=SamplingConfig(
            num_train=100_000, num_eval=2000, sampler="naive_normal", scale=1.0, renders_per_identity=10
        ),
        rendering=dataclasses.replace(paper.rendering, scenario="portrait", framing="face"),
        training=dataclasses.replace(
            paper.training,
            backbone="wide_resnet50_2",
            head="mlp",
            stem_mode="frozen",
            cache_stem_features=True,
            optimizer="adam",
            base_learning_rate=1e-4,
            lr_gamma=0.0,
            train_steps=200_000,
        ),
    )


PRESETS: dict[str, Callable[[], HeadsynthConfig]] = {
    "ci": ci_preset,
    "quickstart": quickstart_preset,
    "paper": paper_preset,
    "thesis": thesis_preset,
}


def get_preset(name: str) -> HeadsynthConfig:
    """Returns the named preset.

    Raises:
        ConfigError: if no preset has that name.
    """
    if name not in PRESETS:
        raise ConfigError(f"Unknown preset {name!r}.", f"Choose one of: {', '.join(sorted(PRESETS))}.")
    return PRESETS[name]()
