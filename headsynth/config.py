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
        deterministic: enable TensorFlow's op determinism, so a rerun with the
            same seed gives identical weights (CPU; slower on GPU).
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
    deterministic: bool = False


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
class GenerativeConfig:
    """Generative models of realistic parameter vectors (FitGenerativeModel), and the samplers study.

    Every model is fitted to q in units of sigma (p = sigma * q); the "gmm" and
    "cgan" samplers return q for rendering at `sampling.scale`.

    Attributes:
        source: where the realistic vectors come from: "population" (the
            labelled identities the built-in model was built from), "photos"
            (a trained regressor's predictions on photographs), or a parameter
            file (.npz/.npy/.csv; optional age and sex labels).
        source_scale: the scale the file's q were written at (p = source_scale
            * sigma * q): 1 for sigma units, 1.6 for the paper's q.
        photos_model: with source=photos, the regressor: a run, study-net or
            SavedModel folder.
        photos: with source=photos, image files, folders or globs.
        photos_labels: with source=photos, an optional CSV `photo,age,sex`.
        gmm_components: component counts of the fitted mixtures (Table 5.4).
        gmm_covariance_types: scikit-learn covariance types fitted.
        gmm_selection: the mixture the "gmm" sampler uses: "bic", "aic", or a
            fitted component count.
        gmm_reg_covar: added to the covariance diagonals (sigma units squared).
        cgan_variants: conditional GANs trained: cvgan1, cvgan2 (Tables 5.2/5.3).
        cgan_steps: training steps per GAN.
        cgan_batch_size: vectors per GAN step.
        cgan_learning_rate: Adam's learning rate for the GAN's G and D.
        gan_ages: ages the "cgan" sampler draws at (empty: the training labels').
        gan_sexes: sexes it draws (0 female, 1 male; empty: the training labels').
        seed: seed of the fits.
        study_samplers: the samplers `headsynth study samplers` compares
            (names in `headsynth.study.samplers.STUDY_SAMPLERS`; "gmm" trains
            one network per size in `study_gmm_components`).
        study_gmm_components: the mixture sizes the study trains on.
        study_num_train: training examples per sampler (0: sampling.num_train).
        study_train_steps: steps per network (0: training.train_steps).
        study_backbone: the networks' backbone ("": training.backbone).
        study_test_identities: realistic identities held out of the fits and
            rendered as the shared test set.
        study_renders_per_identity: renders of each test identity (poses, light).
    """

    source: str = "population"
    source_scale: float = 1.0
    photos_model: str = ""
    photos: tuple[str, ...] = ()
    photos_labels: str = ""
    gmm_components: tuple[int, ...] = (1, 2, 4, 8, 16)
    gmm_covariance_types: tuple[str, ...] = ("full",)
    gmm_selection: str = "bic"
    gmm_reg_covar: float = 1e-3
    cgan_variants: tuple[str, ...] = ("cvgan2",)
    cgan_steps: int = 2000
    cgan_batch_size: int = 64
    cgan_learning_rate: float = 2e-4
    gan_ages: tuple[float, ...] = ()
    gan_sexes: tuple[float, ...] = ()
    seed: int = 0
    study_samplers: tuple[str, ...] = (
        "paper_uniform",
        "naive_uniform",
        "naive_normal",
        "composite",
        "meta_normal",
        "gmm",
        "cvgan2",
    )
    study_gmm_components: tuple[int, ...] = (1, 8)
    study_num_train: int = 0
    study_train_steps: int = 0
    study_backbone: str = ""
    study_test_identities: int = 100
    study_renders_per_identity: int = 2

    def __post_init__(self) -> None:
        # `--set` gives tuple fields as strings: make the numbers numbers.
        for name, kind in (
            ("gmm_components", int),
            ("study_gmm_components", int),
            ("gan_ages", float),
            ("gan_sexes", float),
        ):
            value = getattr(self, name)
            try:
                object.__setattr__(self, name, tuple(kind(v) for v in value))
            except (TypeError, ValueError):
                raise ConfigError(
                    f"generative.{name} must be comma-separated {kind.__name__}s. Received: {value!r}."
                ) from None


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
    generative: GenerativeConfig = field(default_factory=GenerativeConfig)

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
        generative=GenerativeConfig(
            gmm_components=(1, 2, 4),
            cgan_steps=50,
            study_gmm_components=(1, 4),
            study_num_train=64,
            study_train_steps=20,
            study_test_identities=12,
            study_renders_per_identity=1,
        ),
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
        # The samplers study trains 8 networks: fewer examples and steps each, a tiny CNN.
        generative=GenerativeConfig(study_num_train=2500, study_train_steps=2000, study_backbone="tiny_cnn"),
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
    validate_generative(config)


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
        raise ConfigError(
            f"evaluation.corrected_score_n must be positive. Received: {evaluation.corrected_score_n}."
        )
    if not evaluation.study_scenarios or len(set(evaluation.study_scenarios)) != len(
        evaluation.study_scenarios
    ):
        raise ConfigError(
            f"evaluation.study_scenarios must name distinct scenarios. Received: {evaluation.study_scenarios}.",
            "Example: --set evaluation.study_scenarios=none,angle,angle_bg,all.",
        )
    for name in (*evaluation.study_scenarios, evaluation.focus_scenario):
        if name not in SCENARIOS:
            raise ConfigError(
                f"Unknown scenario {name!r} in evaluation.", f"Choose from: {', '.join(SCENARIOS)}."
            )


def validate_generative(config: HeadsynthConfig) -> None:
    """Checks the generative section: GMM and GAN settings, the source, the samplers study."""
    from headsynth.components.generative.store import GenerativeSettings
    from headsynth.study.samplers import STUDY_SAMPLERS

    generative = config.generative
    GenerativeSettings(
        gmm_components=generative.gmm_components,
        gmm_covariance_types=generative.gmm_covariance_types,
        gmm_selection=generative.gmm_selection,
        gmm_reg_covar=generative.gmm_reg_covar,
        cgan_variants=generative.cgan_variants,
        cgan_steps=generative.cgan_steps,
        cgan_batch_size=generative.cgan_batch_size,
        cgan_learning_rate=generative.cgan_learning_rate,
    ).check()  # raises ConfigError naming the problem
    if generative.gmm_reg_covar < 0:
        raise ConfigError(f"generative.gmm_reg_covar must be >= 0. Received: {generative.gmm_reg_covar}.")
    if generative.source_scale <= 0:
        raise ConfigError(f"generative.source_scale must be positive. Received: {generative.source_scale}.")
    if generative.source == "photos":
        if not generative.photos_model or not generative.photos:
            raise ConfigError(
                "generative.source=photos needs generative.photos_model and generative.photos.",
                "Example: --set generative.photos_model=runs/quickstart --set generative.photos=faces/.",
            )
    elif generative.source != "population":
        if not generative.source.endswith((".npz", ".npy", ".csv")):
            raise ConfigError(
                f"generative.source must be population, photos, or a .npz/.npy/.csv file. "
                f"Received: {generative.source!r}."
            )
        if "://" not in generative.source and not os.path.exists(generative.source):
            raise ConfigError(f"generative.source file {generative.source!r} does not exist.")
    if config.sampling.sampler == "cgan" and not generative.cgan_variants:
        raise ConfigError(
            "sampling.sampler=cgan needs a GAN: generative.cgan_variants is empty.",
            "Set e.g. --set generative.cgan_variants=cvgan2.",
        )
    outside = [a for a in generative.gan_ages if not 18.0 <= a <= 80.0]
    if outside or any(s not in (0.0, 1.0) for s in generative.gan_sexes):
        raise ConfigError(
            f"generative.gan_ages must lie in 18..80 and gan_sexes be 0 or 1. "
            f"Received: ages {list(generative.gan_ages)}, sexes {list(generative.gan_sexes)}."
        )
    unknown = [name for name in generative.study_samplers if name not in STUDY_SAMPLERS]
    if not generative.study_samplers or unknown:
        raise ConfigError(
            f"Unknown generative.study_samplers {unknown or '(none)'}.",
            f"Choose from: {', '.join(STUDY_SAMPLERS)}.",
        )
    for key in ("study_num_train", "study_train_steps"):
        if getattr(generative, key) < 0:
            raise ConfigError(f"generative.{key} must be >= 0. Received: {getattr(generative, key)}.")
    for key in ("study_test_identities", "study_renders_per_identity"):
        if getattr(generative, key) < 1:
            raise ConfigError(f"generative.{key} must be positive. Received: {getattr(generative, key)}.")
    if any(k < 1 for k in generative.study_gmm_components):
        raise ConfigError(
            f"generative.study_gmm_components must be positive. Received: {list(generative.study_gmm_components)}."
        )
    if generative.study_backbone:
        from headsynth.models.backbones import BACKBONES

        if generative.study_backbone not in BACKBONES:
            raise ConfigError(
                f"Unknown generative.study_backbone {generative.study_backbone!r}.",
                f"Choose one of: {', '.join(sorted(BACKBONES))}.",
            )
