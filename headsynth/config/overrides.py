"""`--set section.key=value` overrides, and the checks that need no registry."""

from __future__ import annotations

import dataclasses
import os
import re
import types
import typing
from pathlib import Path
from typing import Any

from headsynth.config.schema import (
    EvaluationConfig,
    HeadsynthConfig,
    PipelineConfig,
    TrainingConfig,
    VariabilityConfig,
)
from headsynth.core.errors import ConfigError

# Tuple keys whose items are sampler specs, `name[:a,b,...]`: their arguments hold commas too.
SAMPLER_SPEC_LISTS = ("generative.study_samplers",)


def split_sampler_specs(raw: str) -> tuple[str, ...]:
    """Comma-separated sampler specs: a part that starts like a number continues the spec before it.

    "naive_uniform:3.5,composite:0.8,2,2.6" -> ("naive_uniform:3.5", "composite:0.8,2,2.6");
    a ";" always separates two specs.
    """
    specs: list[str] = []
    for group in raw.split(";"):
        first = len(specs)
        for part in (p.strip() for p in group.split(",")):
            if not part:
                continue
            if len(specs) > first and ":" in specs[-1] and re.match(r"[-+.0-9]", part):
                specs[-1] += "," + part
            else:
                specs.append(part)
    return tuple(specs)


def sampler_name(spec: str) -> str:
    """The sampler's name in a spec `name[:a,b,...]` (the registry checks the rest)."""
    return spec.split(":", 1)[0].strip()


def _parse_value(raw: str, annotation: Any, key: str) -> Any:
    origin = typing.get_origin(annotation)
    if key in SAMPLER_SPEC_LISTS:
        return split_sampler_specs(raw)
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
    """Checks values that types alone cannot; raises ConfigError naming the key.

    Names of registered things are checked where they are registered
    (`headsynth.wiring.check_names` looks each one up).
    """
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
    if config.sampling.renders_per_identity < 1:
        raise ConfigError(
            f"sampling.renders_per_identity must be >= 1. Received: {config.sampling.renders_per_identity}."
        )
    if config.sampling.scale <= 0:
        raise ConfigError(f"sampling.scale must be positive. Received: {config.sampling.scale}.")
    if config.rendering.image_size < 16:
        raise ConfigError(
            f"rendering.image_size must be at least 16. Received: {config.rendering.image_size}."
        )
    if config.rendering.framing not in ("full", "face"):
        raise ConfigError(
            f"rendering.framing must be 'full' or 'face'. Received: {config.rendering.framing!r}."
        )
    if config.rendering.render_size and config.rendering.render_size < config.rendering.image_size:
        raise ConfigError(
            f"rendering.render_size must be 0 (automatic) or at least rendering.image_size "
            f"({config.rendering.image_size}). Received: {config.rendering.render_size}."
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
    if config.training.head not in ("linear", "mlp"):
        raise ConfigError(f"training.head must be linear or mlp. Received: {config.training.head!r}.")
    if config.training.optimizer not in ("sgd", "adam"):
        raise ConfigError(f"training.optimizer must be sgd or adam. Received: {config.training.optimizer!r}.")
    validate_training(config.training)
    validate_pipeline(config.pipeline)
    validate_evaluation(config.evaluation)
    validate_variability(config.variability)
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
    if training.input_mean not in ("image", "channel"):
        raise ConfigError(
            f"training.input_mean must be image or channel. Received: {training.input_mean!r}.",
            "image subtracts the training set's mean image (the paper), channel its per-channel mean.",
        )
    if training.log_renders < 0:
        raise ConfigError(f"training.log_renders must be >= 0. Received: {training.log_renders}.")
    if not training.output_scale >= 0 or not training.output_scale_stds > 0:
        raise ConfigError(
            f"training.output_scale must be >= 0 (0: derived from sampling.sampler) and "
            f"training.output_scale_stds > 0. Received: {training.output_scale}, {training.output_scale_stds}."
        )
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
    for key in ("saliency_examples", "moving_average_window", "identity_examples", "study_num_test"):
        if getattr(evaluation, key) < 0:
            raise ConfigError(f"evaluation.{key} must be >= 0. Received: {getattr(evaluation, key)}.")
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
    photos = evaluation.real_photos
    if photos not in ("", "packaged") and not Path(photos).is_dir():
        raise ConfigError(
            f"evaluation.real_photos must be 'packaged', '' (skip) or a folder of photos. Received: {photos!r}.",
            "Example: --set evaluation.real_photos=packaged, or --set evaluation.real_photos=/data/photos.",
        )
    if not evaluation.study_scenarios or len(set(evaluation.study_scenarios)) != len(
        evaluation.study_scenarios
    ):
        raise ConfigError(
            f"evaluation.study_scenarios must name distinct scenarios. Received: {evaluation.study_scenarios}.",
            "Example: --set evaluation.study_scenarios=none,angle,angle_bg,all.",
        )


def validate_variability(variability: VariabilityConfig) -> None:
    """Checks the variability study's section: counts >= 0 (0: the main sections'), at least one seed."""
    for key in (
        "num_train",
        "image_size",
        "train_steps",
        "batch_size",
        "steps_per_epoch",
        "saliency_share_examples",
        "base_learning_rate",
    ):
        if getattr(variability, key) < 0:
            raise ConfigError(f"variability.{key} must be >= 0. Received: {getattr(variability, key)}.")
    if variability.image_size and variability.image_size < 16:
        raise ConfigError(f"variability.image_size must be at least 16. Received: {variability.image_size}.")
    if variability.seeds < 1:
        raise ConfigError(
            f"variability.seeds must be >= 1. Received: {variability.seeds}.",
            "Set e.g. --set variability.seeds=3.",
        )
    if variability.bootstrap < 100:
        raise ConfigError(f"variability.bootstrap must be >= 100. Received: {variability.bootstrap}.")
    if variability.head not in ("", "linear", "mlp"):
        raise ConfigError(
            f"variability.head must be linear, mlp or empty (training.head). Received: {variability.head!r}.",
            "The paper's network has one fully connected layer: --set variability.head=linear.",
        )


def validate_generative(config: HeadsynthConfig) -> None:
    """Checks the generative section: GMM and GAN settings, the source, the samplers study."""
    generative = config.generative
    if generative.gmm_reg_covar < 0:
        raise ConfigError(f"generative.gmm_reg_covar must be >= 0. Received: {generative.gmm_reg_covar}.")
    if generative.source_scale <= 0:
        raise ConfigError(f"generative.source_scale must be positive. Received: {generative.source_scale}.")
    if generative.heldout_size < 2:
        raise ConfigError(
            f"generative.heldout_size must be at least 2 identities. Received: {generative.heldout_size}.",
            "Set e.g. --set generative.heldout_size=2000.",
        )
    if generative.source == "photos":
        if not generative.photos_model or not generative.photos:
            raise ConfigError(
                "generative.source=photos needs generative.photos_model and generative.photos.",
                "Example: --set generative.photos_model=runs/quickstart --set generative.photos=faces/.",
            )
    elif generative.source not in ("population", "heldout_population"):
        if not generative.source.endswith((".npz", ".npy", ".csv")):
            raise ConfigError(
                f"generative.source must be heldout_population, population, photos, or a "
                f".npz/.npy/.csv file. Received: {generative.source!r}."
            )
        if "://" not in generative.source and not os.path.exists(generative.source):
            raise ConfigError(f"generative.source file {generative.source!r} does not exist.")
    if sampler_name(config.sampling.sampler) == "cgan" and not generative.cgan_variants:
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
    for key in ("study_num_train", "study_train_steps"):
        if getattr(generative, key) < 0:
            raise ConfigError(f"generative.{key} must be >= 0. Received: {getattr(generative, key)}.")
    if generative.study_image_size and generative.study_image_size < 16:
        raise ConfigError(
            f"generative.study_image_size must be 0 (rendering.image_size) or at least 16. "
            f"Received: {generative.study_image_size}."
        )
    if generative.study_identity_reference not in ("truth", "input"):
        raise ConfigError(
            "generative.study_identity_reference must be truth or input. "
            f"Received: {generative.study_identity_reference!r}."
        )
    if generative.study_bootstrap < 100:
        raise ConfigError(
            f"generative.study_bootstrap must be >= 100. Received: {generative.study_bootstrap}.",
            "Set e.g. --set generative.study_bootstrap=2000.",
        )
    for key in ("study_test_identities", "study_renders_per_identity", "study_seeds"):
        if getattr(generative, key) < 1:
            raise ConfigError(f"generative.{key} must be positive. Received: {getattr(generative, key)}.")
    if any(k < 1 for k in generative.study_gmm_components):
        raise ConfigError(
            f"generative.study_gmm_components must be positive. Received: {list(generative.study_gmm_components)}."
        )
