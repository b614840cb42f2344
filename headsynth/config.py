"""One frozen configuration tree with named presets.

Everything a run does is decided by a `HeadsynthConfig`. Presets are plain
factory functions registered in `PRESETS`; the command line picks one and
applies `--set section.key=value` overrides with `apply_overrides`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headsynth.errors import ConfigError


@dataclass(frozen=True)
class FaceModelConfig:
    """Which morphable model to use and how many components of it.

    Attributes:
        source: "builtin", or a path to a `.npz` or Basel Face Model 2017 `.h5`.
        shape_components: keep the first k shape components (0 keeps all).
        texture_components: keep the first k texture components (0 keeps all).
    """

    source: str = "builtin"
    shape_components: int = 0
    texture_components: int = 0


@dataclass(frozen=True)
class SamplingConfig:
    """How parameter vectors are drawn.

    Attributes:
        sampler: name of a registered sampler (see `components/sampling`).
        scale: p = scale * sigma * q; the paper uses 1.6.
        num_train: training examples to render.
        num_eval: held-out examples to render.
        seed: root seed; every example's randomness derives from (seed, index).
    """

    sampler: str = "paper_uniform"
    scale: float = 1.6
    num_train: int = 2000
    num_eval: int = 400
    seed: int = 0


@dataclass(frozen=True)
class RenderConfig:
    """How examples are rendered.

    Attributes:
        scenario: training scenario, one of `rendering.scenarios.SCENARIOS`.
        eval_scenario: scenario of the held-out split; empty means the same.
        image_size: square image side in pixels (the paper: 224).
        batch_size: meshes rasterised per call.
        num_shards: TFRecord shards per split (does not change the bytes of
            any example, only how they are grouped in files).
        image_format: "png" (lossless) or "jpeg".
        beam_args: Beam pipeline options passed through unchanged.
        backgrounds: "builtin" (scikit-image's photographs) or a folder of
            photographs, for scenarios with photo backgrounds.
        antialias: supersampling factor (1 = off, 2 = 4 samples per pixel).
        store_mask: store each example's head mask (PNG).
        store_depth: store each example's depth map (16-bit PNG, mm).
        store_landmarks: store each example's projected 2D landmarks.
    """

    scenario: str = "angle"
    eval_scenario: str = ""
    image_size: int = 64
    batch_size: int = 32
    num_shards: int = 2
    image_format: str = "png"
    beam_args: tuple[str, ...] = ("--direct_running_mode=in_memory", "--direct_num_workers=1")
    backgrounds: str = "builtin"
    antialias: int = 1
    store_mask: bool = False
    store_depth: bool = False
    store_landmarks: bool = True


@dataclass(frozen=True)
class TrainingConfig:
    """The regressor and its optimisation.

    Attributes:
        backbone: name in `models.backbones.BACKBONES`.
        head: "linear" (the paper's single dense layer) or "mlp" (the thesis's).
        optimizer: "sgd" (momentum, Caffe "inv" decay) or "adam".
        base_learning_rate: Caffe base_lr.
        lr_gamma: Caffe "inv" gamma.
        lr_power: Caffe "inv" power.
        momentum: SGD momentum.
        batch_size: examples per step.
        train_steps: optimisation steps.
        eval_steps: validation steps run at the end of training.
        steps_per_epoch: steps between validation and checkpoint passes.
        seed: seed for weight init and shuffling.
        stem_weights: the backbone's initial weights: "" (random), "imagenet"
            (through Keras, for backbones Keras ships: resnet50), or a file
            path (`.weights.h5`, a legacy Keras `.h5` read by layer name, or a
            torchvision state dict as `.npz`; see `models/pretrained.py`).
        stem_mode: "trained" (the whole network trains), "frozen" (only the
            head trains; the thesis), or "from_block" (the stem trains from
            block `stem_train_from_block` on).
        stem_train_from_block: first trained block with stem_mode
            "from_block"; block 0 is the input stem (conv1), 1 the first
            residual block (conv2_block1) or stage.
        cache_stem_features: with a frozen stem, compute its features once
            per example and train the head on the cached features.
        distribution: tf.distribute strategy: "default" (none), "mirrored"
            (all local GPUs) or "one_device" (the first GPU, else the CPU).
        log_renders: eval examples whose input, predicted and true renders
            go to TensorBoard at the end of training (0: none).
    """

    backbone: str = "small_cnn"
    head: str = "linear"
    optimizer: str = "adam"
    base_learning_rate: float = 1e-3
    lr_gamma: float = 1e-4
    lr_power: float = 0.75
    momentum: float = 0.9
    batch_size: int = 32
    train_steps: int = 1500
    eval_steps: int = 10
    steps_per_epoch: int = 250
    seed: int = 0
    stem_weights: str = ""
    stem_mode: str = "trained"
    stem_train_from_block: int = 1
    cache_stem_features: bool = False
    distribution: str = "default"
    log_renders: int = 4


@dataclass(frozen=True)
class PipelineConfig:
    """How the TFX pipeline is run.

    Attributes:
        name: pipeline name in ML Metadata.
        enable_cache: reuse outputs of unchanged components.
        model_name: directory name the Pusher serves the model under.
        pipeline_root: where a remote run (`headsynth compile --target
            kubeflow`) keeps its artifacts: a URI every pod can reach
            (gs://bucket/headsynth) or an absolute path on a volume they all
            mount; the Pusher serves to `<pipeline_root>/serving/<model_name>`.
            Empty: local runs write under `--out`; a remote target refuses it.
    """

    name: str = "headsynth"
    enable_cache: bool = True
    model_name: str = "headsynth"
    pipeline_root: str = ""


@dataclass(frozen=True)
class EvaluationConfig:
    """Evaluation figures, the identity score, and the variability study.

    Attributes:
        saliency_examples: inputs shown with their saliency map and the renders
            of prediction and truth (the paper's Fig. 9); 0 leaves the figure out.
        moving_average_window: examples per window of the error-vs-yaw moving
            average (the paper's Fig. 8); 0 uses a tenth of the examples.
        identity_backend: face-recognition model of the identity score: "dlib"
            (offline default), "vgg-face", "arcface", "facenet512" (deepface,
            weights must be present), "deepface-dlib", or "none".
        identity_examples: test examples scored per network (0: no identity score).
        identity_reference: what the frontal rendering of a prediction is
            compared with: "truth" (a frontal rendering of the true q, so every
            example has a face to compare, whatever its pose and size) or
            "input" (the input image itself, as the thesis does with photos;
            inputs without a detectable face count as failures).
        identity_image_size: side of the renderings the identity score compares.
        corrected_score_n: n of the thesis's corrected score (its Eq. 6.2).
        study_scenarios: the training and test scenarios of `headsynth study variability`.
        study_num_test: test examples per scenario in the study (0: sampling.num_eval).
        focus_scenario: the study's test scenario for the saliency figure and the
            identity score (the paper shows its figures on *all*).
    """

    saliency_examples: int = 4
    moving_average_window: int = 0
    identity_backend: str = "dlib"
    identity_examples: int = 32
    identity_reference: str = "truth"
    identity_image_size: int = 160
    corrected_score_n: float = 30.0
    study_scenarios: tuple[str, ...] = ("none", "angle", "angle_bg", "all")
    study_num_test: int = 0
    focus_scenario: str = "all"


@dataclass(frozen=True)
class HeadsynthConfig:
    """The whole configuration of one run."""

    preset: str = "quickstart"
    face_model: FaceModelConfig = field(default_factory=FaceModelConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    rendering: RenderConfig = field(default_factory=RenderConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)

    def to_dict(self) -> dict[str, Any]:
        """Returns the configuration as nested plain dicts (JSON-ready)."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """Returns a stable JSON encoding (sorted keys)."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=2)


# Presets -------------------------------------------------------------------


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
        evaluation=EvaluationConfig(saliency_examples=2, identity_examples=6, identity_image_size=128),
    )


def quickstart_preset() -> HeadsynthConfig:
    """A few minutes on 2 CPU cores, with numbers that mean something."""
    return HeadsynthConfig(
        preset="quickstart",
        face_model=FaceModelConfig(shape_components=8, texture_components=8),
        sampling=SamplingConfig(num_train=4000, num_eval=500),
        rendering=RenderConfig(scenario="angle", image_size=64, batch_size=32, num_shards=4),
        training=TrainingConfig(batch_size=32, train_steps=2000, steps_per_epoch=250),
        evaluation=EvaluationConfig(saliency_examples=4, identity_examples=48),
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
    """The thesis's regressor: a frozen ImageNet WRN-50-2 stem, 3x200 leaky-ReLU head, tanh output."""
    paper = paper_preset()
    return dataclasses.replace(
        paper,
        preset="thesis",
        face_model=FaceModelConfig(shape_components=40, texture_components=40),
        sampling=SamplingConfig(num_train=100_000, num_eval=2000, sampler="naive_normal", scale=1.0),
        rendering=dataclasses.replace(paper.rendering, scenario="none"),
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


# Overrides -----------------------------------------------------------------


def _parse_value(raw: str, annotation: Any, key: str) -> Any:
    origin = typing.get_origin(annotation)
    if annotation is bool:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"--set {key}={raw}: expected true or false.", "Use e.g. --set {key}=false.")
    if annotation in (int, float):
        try:
            return annotation(raw)
        except ValueError:
            raise ConfigError(
                f"--set {key}={raw}: expected {annotation.__name__}, got {raw!r}.",
                f"Give a number, e.g. --set {key}={annotation(1)}.",
            ) from None
    if annotation is str:
        return raw
    if origin is tuple:
        return tuple(part for part in raw.split(",") if part)
    if origin in (typing.Union, types.UnionType):
        raise ConfigError(f"--set {key}: unsupported type {annotation}.")
    raise ConfigError(f"--set {key}: unsupported type {annotation}.")


def apply_overrides(config: HeadsynthConfig, overrides: list[str] | tuple[str, ...]) -> HeadsynthConfig:
    """Applies `section.key=value` overrides and returns a new config.

    Args:
        config: the starting configuration (usually a preset).
        overrides: strings like "training.train_steps=100". Tuple fields take
            comma-separated values.

    Raises:
        ConfigError: for a malformed override, an unknown key, or a value that
            does not parse as the field's type.
    """
    sections: dict[str, dict[str, Any]] = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(
                f"--set {item!r} is not of the form section.key=value.",
                "Example: --set training.train_steps=100.",
            )
        path, raw = item.split("=", 1)
        parts = path.strip().split(".")
        section_names = [
            f.name
            for f in dataclasses.fields(config)
            if dataclasses.is_dataclass(f.type) or f.name != "preset"
        ]
        if len(parts) != 2 or parts[0] not in section_names:
            raise ConfigError(
                f"Unknown --set key {path!r}.",
                f"Keys look like section.key with section one of: {', '.join(section_names)}.",
            )
        section_name, key = parts
        section = getattr(config, section_name)
        hints = typing.get_type_hints(type(section))
        if key not in hints:
            raise ConfigError(
                f"Unknown --set key {path!r}.",
                f"Keys of {section_name!r} are: {', '.join(hints)}.",
            )
        sections.setdefault(section_name, {})[key] = _parse_value(raw.strip(), hints[key], path)
    replacements = {
        name: dataclasses.replace(getattr(config, name), **values) for name, values in sections.items()
    }
    new_config = dataclasses.replace(config, **replacements)
    validate(new_config)
    return new_config


def validate(config: HeadsynthConfig) -> None:
    """Checks values that types alone cannot; raises ConfigError naming the key."""
    positive = {
        "sampling.num_train": config.sampling.num_train,
        "sampling.num_eval": config.sampling.num_eval,
        "rendering.image_size": config.rendering.image_size,
        "rendering.batch_size": config.rendering.batch_size,
        "rendering.num_shards": config.rendering.num_shards,
        "training.batch_size": config.training.batch_size,
        "training.train_steps": config.training.train_steps,
        "training.eval_steps": config.training.eval_steps,
        "training.steps_per_epoch": config.training.steps_per_epoch,
    }
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{key} must be positive. Received: {value}.", f"Set e.g. --set {key}=1.")
    for key in ("face_model.shape_components", "face_model.texture_components"):
        section, name = key.split(".")
        if getattr(getattr(config, section), name) < 0:
            raise ConfigError(
                f"{key} must be >= 0 (0 keeps all). Received: {getattr(getattr(config, section), name)}."
            )
    if config.sampling.scale <= 0:
        raise ConfigError(f"sampling.scale must be positive. Received: {config.sampling.scale}.")
    if config.rendering.image_size < 16:
        raise ConfigError(
            f"rendering.image_size must be at least 16. Received: {config.rendering.image_size}."
        )
    if not 1 <= config.rendering.antialias <= 4:
        raise ConfigError(f"rendering.antialias must be 1..4. Received: {config.rendering.antialias}.")
    if config.rendering.backgrounds != "builtin" and not Path(config.rendering.backgrounds).is_dir():
        raise ConfigError(
            f"Background folder {config.rendering.backgrounds} does not exist.",
            "Set rendering.backgrounds to a folder of photographs, or to builtin.",
        )
    if config.rendering.image_format not in ("png", "jpeg"):
        raise ConfigError(
            f"rendering.image_format must be png or jpeg. Received: {config.rendering.image_format!r}."
        )
    # Imported here: these registries live beside the code they name.
    from headsynth.components.rendering.scenarios import SCENARIOS, get_scenario
    from headsynth.components.sampling.samplers import SAMPLERS
    from headsynth.models.backbones import BACKBONES

    for key in ("rendering.scenario", "rendering.eval_scenario"):
        name = getattr(config.rendering, key.split(".")[1])
        if name.endswith(".json"):
            get_scenario(name)  # raises ConfigError naming what is wrong with the file
    for key, value, known in (
        ("sampling.sampler", config.sampling.sampler, SAMPLERS),
        ("training.backbone", config.training.backbone, BACKBONES),
    ):
        if value not in known:
            raise ConfigError(f"Unknown {key} {value!r}.", f"Choose one of: {', '.join(sorted(known))}.")
    if config.rendering.scenario not in SCENARIOS and not config.rendering.scenario.endswith(".json"):
        raise ConfigError(
            f"Unknown rendering.scenario {config.rendering.scenario!r}.",
            f"Choose one of: {', '.join(SCENARIOS)}, or a .json scenario file.",
        )
    if (
        config.rendering.eval_scenario
        and config.rendering.eval_scenario not in SCENARIOS
        and not config.rendering.eval_scenario.endswith(".json")
    ):
        raise ConfigError(
            f"Unknown rendering.eval_scenario {config.rendering.eval_scenario!r}.",
            f"Choose one of: {', '.join(sorted(SCENARIOS))}.",
        )
    if config.training.head not in ("linear", "mlp"):
        raise ConfigError(f"training.head must be linear or mlp. Received: {config.training.head!r}.")
    if config.training.optimizer not in ("sgd", "adam"):
        raise ConfigError(f"training.optimizer must be sgd or adam. Received: {config.training.optimizer!r}.")
    validate_training(config.training)
    validate_pipeline(config.pipeline)
    validate_evaluation(config.evaluation)


def validate_training(training: TrainingConfig) -> None:
    """Checks the stem, distribution and logging fields of the training section."""
    if training.stem_mode not in ("trained", "frozen", "from_block"):
        raise ConfigError(
            f"training.stem_mode must be trained, frozen or from_block. Received: {training.stem_mode!r}."
        )
    if training.stem_train_from_block < 1:
        raise ConfigError(
            f"training.stem_train_from_block must be >= 1 (block 0 is the input stem). "
            f"Received: {training.stem_train_from_block}.",
            "Use stem_mode=trained to train the whole stem.",
        )
    if training.cache_stem_features and training.stem_mode != "frozen":
        raise ConfigError(
            f"training.cache_stem_features needs training.stem_mode=frozen. Received: {training.stem_mode!r}.",
            "Set --set training.stem_mode=frozen, or --set training.cache_stem_features=false.",
        )
    if training.distribution not in ("default", "mirrored", "one_device"):
        raise ConfigError(
            f"training.distribution must be default, mirrored or one_device. Received: {training.distribution!r}."
        )
    if training.log_renders < 0:
        raise ConfigError(f"training.log_renders must be >= 0. Received: {training.log_renders}.")
    weights = training.stem_weights
    if weights not in ("", "imagenet"):
        if not weights.endswith((".weights.h5", ".h5", ".hdf5", ".npz")):
            raise ConfigError(
                f"training.stem_weights must be empty, imagenet, or a .weights.h5/.h5/.hdf5/.npz file. "
                f"Received: {weights!r}."
            )
        if "://" not in weights and not os.path.exists(weights):
            raise ConfigError(f"training.stem_weights file {weights!r} does not exist.")


def validate_pipeline(pipeline: PipelineConfig) -> None:
    """Checks the pipeline section: a model name TF Serving can serve, a usable pipeline root."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", pipeline.model_name):
        raise ConfigError(
            f"pipeline.model_name must be a plain directory name (letters, digits, _ . -). "
            f"Received: {pipeline.model_name!r}."
        )
    root = pipeline.pipeline_root
    if root and (
        any(c.isspace() for c in root)
        or not (re.match(r"[a-z][a-z0-9+.-]*://\S", root) or root.startswith("/"))
    ):
        raise ConfigError(
            f"pipeline.pipeline_root must be a URI (gs://bucket/path) or an absolute path. Received: {root!r}.",
            "Every pod of a remote run must reach it, e.g. --set pipeline.pipeline_root=gs://my-bucket/headsynth.",
        )


def validate_evaluation(evaluation: EvaluationConfig) -> None:
    """Checks the evaluation section: counts, the identity backend, the study's scenarios."""
    from headsynth.components.identity.embedding import BACKENDS
    from headsynth.components.rendering.scenarios import SCENARIOS

    for key in ("saliency_examples", "moving_average_window", "identity_examples", "study_num_test"):
        if getattr(evaluation, key) < 0:
            raise ConfigError(f"evaluation.{key} must be >= 0. Received: {getattr(evaluation, key)}.")
    if evaluation.identity_backend != "none" and evaluation.identity_backend not in BACKENDS:
        raise ConfigError(
            f"Unknown evaluation.identity_backend {evaluation.identity_backend!r}.",
            f"Choose one of: none, {', '.join(BACKENDS)}.",
        )
    if evaluation.identity_reference not in ("truth", "input"):
        raise ConfigError(
            f"evaluation.identity_reference must be truth or input. Received: {evaluation.identity_reference!r}."
        )
    if evaluation.identity_image_size < 64:
        raise ConfigError(
            f"evaluation.identity_image_size must be at least 64 (faces must be detectable). "
            f"Received: {evaluation.identity_image_size}."
        )
    if evaluation.corrected_score_n <= 0:
        raise ConfigError(f"evaluation.corrected_score_n must be positive. Received: {evaluation.corrected_score_n}.")
    if not evaluation.study_scenarios or len(set(evaluation.study_scenarios)) != len(evaluation.study_scenarios):
        raise ConfigError(
            f"evaluation.study_scenarios must name distinct scenarios. Received: {evaluation.study_scenarios}.",
            "Example: --set evaluation.study_scenarios=none,angle,angle_bg,all.",
        )
    for name in (*evaluation.study_scenarios, evaluation.focus_scenario):
        if name not in SCENARIOS:
            raise ConfigError(f"Unknown scenario {name!r} in evaluation.", f"Choose from: {', '.join(SCENARIOS)}.")
