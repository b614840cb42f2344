"""The one place that turns a `HeadsynthConfig` into jobs: render jobs, training settings, component parameters.

The pipeline (`pipeline/pipeline.py`) and both studies (`study/`) call these
functions and nothing else maps the configuration to a job, so a field added
to a section reaches every path at once. `check_names` looks up every
registered name the configuration mentions; each registry raises a
`ConfigError` naming the key and the known names.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from headsynth.components.evaluation.component import PARAMETER_FIELDS as EVALUATE_FIELDS
from headsynth.components.generative.component import join_list
from headsynth.components.generative.store import GenerativeSettings
from headsynth.components.identity.embedding import check_backend_name
from headsynth.components.rendering.render_job import RenderJob
from headsynth.components.rendering.scenarios import get_scenario
from headsynth.components.sampling.samplers import FITTED_SAMPLERS, GENERATIVE_SAMPLERS
from headsynth.components.sampling.specs import SamplerSpec, parse_sampler_spec, sampler_bound
from headsynth.components.training.settings import TrainSettings
from headsynth.config import HeadsynthConfig, TrainingConfig
from headsynth.models.backbones import get_preset as get_backbone_preset
from headsynth.morphable.builtin import builtin_model_path

# RenderJob fields that are places, not settings: the caller's, never the config's.
RENDER_JOB_PATHS = ("model_path", "parameters_path", "output_dir")


def check_names(config: HeadsynthConfig) -> HeadsynthConfig:
    """Looks up every registered name in `config` (scenarios, sampler, backbones, identity backend, GMM/GAN).

    Returns:
        `config`, unchanged, so callers can write `config = check_names(apply_overrides(...))`.

    Raises:
        ConfigError: naming the key, the value and the known names.
    """
    rendering, evaluation, generative = config.rendering, config.evaluation, config.generative
    get_scenario(rendering.scenario, key="rendering.scenario")
    if rendering.eval_scenario:
        get_scenario(rendering.eval_scenario, key="rendering.eval_scenario")
    for name in evaluation.study_scenarios:
        get_scenario(name, key="evaluation.study_scenarios", files=False)
    get_scenario(evaluation.focus_scenario, key="evaluation.focus_scenario", files=False)
    parse_sampler_spec(config.sampling.sampler, key="sampling.sampler")
    for spec in generative.study_samplers:
        parse_sampler_spec(spec, key="generative.study_samplers")
    get_backbone_preset(config.training.backbone, key="training.backbone")
    if generative.study_backbone:
        get_backbone_preset(generative.study_backbone, key="generative.study_backbone")
    if config.variability.backbone:
        get_backbone_preset(config.variability.backbone, key="variability.backbone")
    if evaluation.identity_backend != "none":
        check_backend_name(evaluation.identity_backend, key="evaluation.identity_backend")
    generative_settings(config).check()
    return config


def render_job(
    config: HeadsynthConfig,
    model_path: str,
    parameters_path: str,
    output_dir: str,
    **changes,
) -> RenderJob:
    """The render job of `config`'s rendering and sampling sections.

    Args:
        config: the configuration.
        model_path: the morphable model `.npz`.
        parameters_path: `.npz` with the q of each split.
        output_dir: the Examples folder to write.
        **changes: fields that differ from the configuration's (a study's
            scenario, or scale 1 for q already in sigma units).
    """
    rendering = config.rendering
    job = RenderJob(
        model_path=model_path,
        parameters_path=parameters_path,
        output_dir=output_dir,
        scenario=rendering.scenario,
        eval_scenario=rendering.eval_scenario or rendering.scenario,
        image_size=rendering.image_size,
        batch_size=rendering.batch_size,
        num_shards=rendering.num_shards,
        seed=config.sampling.seed,
        scale=config.sampling.scale,
        image_format=rendering.image_format,
        antialias=rendering.antialias,
        backgrounds=rendering.backgrounds,
        store_mask=rendering.store_mask,
        store_depth=rendering.store_depth,
        store_landmarks=rendering.store_landmarks,
        framing=rendering.framing,
        render_size=rendering.render_size,
    )
    return dataclasses.replace(job, **changes)


def render_parameters(config: HeadsynthConfig) -> dict:
    """RenderExamples' parameters: the render job's settings (TFX parameters: bools as ints)."""
    job = render_job(config, "", "", "")
    values = {k: v for k, v in dataclasses.asdict(job).items() if k not in RENDER_JOB_PATHS}
    return {k: int(v) if isinstance(v, bool) else v for k, v in values.items()}


def train_settings(config: HeadsynthConfig, **training_changes) -> TrainSettings:
    """The Trainer's settings: the training section plus what the data fixes (image size, scale).

    Args:
        config: the configuration.
        **training_changes: training fields that differ from the section's (a
            study's steps or backbone).
    """
    training = dataclasses.replace(config.training, **training_changes)
    return TrainSettings(
        training=training,
        image_size=config.rendering.image_size,
        scale=config.sampling.scale,
        output_scale=output_scale(
            training, config.sampling.sampler, {"target_scale": config.sampling.scale}, "sampling.sampler"
        ),
    )


def output_scale(
    training: TrainingConfig, sampler: str | SamplerSpec, options: dict | None = None, key: str = "sampler"
) -> float:
    """The factor on the head's output, so that the head reaches every q the sampler draws.

    `training.output_scale` when set; else, for the "mlp" head (tanh output), the
    half-width the sampler's q lie in (`sampler_bound`: a uniform's limit,
    `training.output_scale_stds` standard deviations of a normal; for samplers
    drawing from data, from the parameter file in `options`, else unit sigma);
    1 for the unbounded "linear" head.

    Args:
        training: the training section.
        sampler: the sampler's spec.
        options: the sampler's options (`target_scale`: the scale its q are rendered at;
            `parameter_file` or `model_dir` for samplers drawing from data).
        key: the configuration key of the spec, for the error message.
    """
    if training.output_scale > 0:
        return float(training.output_scale)
    if training.head != "mlp":
        return 1.0
    spec = sampler if isinstance(sampler, SamplerSpec) else parse_sampler_spec(sampler, key)
    return sampler_bound(spec, options, training.output_scale_stds)


def variability_image_size(config: HeadsynthConfig) -> int:
    """The variability study's input side: its own, else the rendering section's."""
    return config.variability.image_size or config.rendering.image_size


def samplers_image_size(config: HeadsynthConfig) -> int:
    """The samplers study's image side: its own, or the rendering section's."""
    return config.generative.study_image_size or config.rendering.image_size


def variability_render_job(
    config: HeadsynthConfig, model_path: str, parameters_path: str, output_dir: str, scenario: str
) -> RenderJob:
    """The job rendering one scenario of the variability study: both splits in `scenario`, with head masks.

    The masks let the study measure how much of each network's saliency falls on the head (Fig. 9).
    """
    return render_job(
        config,
        model_path,
        parameters_path,
        output_dir,
        scenario=scenario,
        eval_scenario=scenario,
        image_size=variability_image_size(config),
        store_mask=True,
        framing="full",  # the paper's input: the whole render, whatever the main job's framing
    )


def variability_train_settings(config: HeadsynthConfig, seed_index: int) -> TrainSettings:
    """The settings of the variability study's networks of one seed: its own fields over the training section's.

    The study trains the paper's end-to-end network: the stem is always trained
    from the image, never frozen or cached, and starts from pretrained weights
    only when it is the training section's backbone (whose weights those are).

    Args:
        config: the configuration.
        seed_index: 0 .. variability.seeds - 1; the network's seed is `training.seed + seed_index`.
    """
    study = config.variability
    changes = {
        key: value
        for key, value in (
            ("backbone", study.backbone),
            ("head", study.head),
            ("base_learning_rate", study.base_learning_rate),
            ("train_steps", study.train_steps),
            ("batch_size", study.batch_size),
            ("steps_per_epoch", study.steps_per_epoch),
        )
        if value
    }
    changes.update(stem_mode="trained", cache_stem_features=False)
    if changes.get("backbone", config.training.backbone) != config.training.backbone:
        changes["stem_weights"] = ""
    settings = train_settings(config, seed=config.training.seed + seed_index, **changes)
    return dataclasses.replace(settings, image_size=variability_image_size(config))


def file_fingerprint(source: str) -> str:
    """sha256 of a model or parameter file, so a changed file invalidates TFX's cache."""
    path = builtin_model_path() if source == "builtin" else Path(source)
    if not path.exists():
        return "missing"
    return hashlib.sha256(path.read_bytes()).hexdigest()


def face_model_parameters(config: HeadsynthConfig) -> dict:
    """FaceModel's parameters."""
    face_model = config.face_model
    return {
        "source": face_model.source,
        "shape_components": face_model.shape_components,
        "texture_components": face_model.texture_components,
        "source_fingerprint": file_fingerprint(face_model.source),
    }


def sampler_name(config: HeadsynthConfig) -> str:
    """The registered sampler `sampling.sampler` names (its spec without arguments)."""
    return parse_sampler_spec(config.sampling.sampler, key="sampling.sampler").name


def uses_generative_model(config: HeadsynthConfig) -> bool:
    """Whether the sampler draws from FitGenerativeModel's folder (which runs first): from its fitted
    models (gmm, cgan) or around its realistic vectors (fitted_*)."""
    return sampler_name(config) in (*GENERATIVE_SAMPLERS, *FITTED_SAMPLERS)


def sampling_parameters(config: HeadsynthConfig) -> dict:
    """SampleParameters' parameters (the GAN's conditions only for generative samplers)."""
    sampling = config.sampling
    values = {
        "sampler": sampling.sampler,
        "num_train": sampling.num_train,
        "num_eval": sampling.num_eval,
        "seed": sampling.seed,
    }
    if sampling.renders_per_identity != 1:  # absent at 1: the step's cache key stays as it was
        values["renders_per_identity"] = sampling.renders_per_identity
    if uses_generative_model(config):
        generative = config.generative
        values.update(
            scale=sampling.scale,
            gan_ages=",".join(f"{a:g}" for a in generative.gan_ages),
            gan_sexes=",".join(f"{s:g}" for s in generative.gan_sexes),
        )
    return values


def generative_settings(config: HeadsynthConfig) -> GenerativeSettings:
    """The GMM and GAN fitting settings (GANs are trained only for the "cgan" sampler)."""
    generative = config.generative
    return GenerativeSettings(
        gmm_components=gmm_components(config),
        gmm_covariance_types=generative.gmm_covariance_types,
        gmm_selection=generative.gmm_selection,
        gmm_reg_covar=generative.gmm_reg_covar,
        cgan_variants=spec_cgan_variants(config),
        cgan_steps=generative.cgan_steps,
        cgan_batch_size=generative.cgan_batch_size,
        cgan_learning_rate=generative.cgan_learning_rate,
        seed=generative.seed,
    )


def generative_parameters(config: HeadsynthConfig) -> dict:
    """FitGenerativeModel's parameters."""
    generative = config.generative
    source = generative.source
    is_file = source not in ("heldout_population", "population", "photos")
    return {
        "source": source,
        "heldout_size": generative.heldout_size,
        "source_scale": generative.source_scale,
        "source_fingerprint": file_fingerprint(source) if is_file else "",
        "photos_model": generative.photos_model,
        "photos": join_list(generative.photos),
        "photos_labels": generative.photos_labels,
        "gmm_components": join_list(gmm_components(config)),
        "gmm_covariance_types": join_list(generative.gmm_covariance_types),
        "gmm_selection": generative.gmm_selection,
        "gmm_reg_covar": generative.gmm_reg_covar,
        "cgan_variants": join_list(cgan_variants(config)),
        "cgan_steps": generative.cgan_steps,
        "cgan_batch_size": generative.cgan_batch_size,
        "cgan_learning_rate": generative.cgan_learning_rate,
        "seed": generative.seed,
    }


def cgan_variants(config: HeadsynthConfig) -> tuple[str, ...]:
    """The GANs FitGenerativeModel trains: none unless the sampler is "cgan", then
    `generative.cgan_variants` and the one its spec names (cgan:cvgan1)."""
    return spec_cgan_variants(config) if sampler_name(config) == "cgan" else ()


def spec_cgan_variants(config: HeadsynthConfig) -> tuple[str, ...]:
    """`generative.cgan_variants` and the one a "cgan" spec names."""
    spec = parse_sampler_spec(config.sampling.sampler, key="sampling.sampler")
    named = [spec.values["variant"]] if spec.name == "cgan" and spec.values["variant"] else []
    return tuple(dict.fromkeys([*config.generative.cgan_variants, *named]))


def gmm_components(config: HeadsynthConfig) -> tuple[int, ...]:
    """`generative.gmm_components` and the size a "gmm" spec names (gmm:25)."""
    spec = parse_sampler_spec(config.sampling.sampler, key="sampling.sampler")
    named = {spec.values["components"]} if spec.name == "gmm" and spec.values["components"] else set()
    return tuple(sorted(set(config.generative.gmm_components) | named))


def evaluate_parameters(config: HeadsynthConfig) -> dict:
    """Evaluate's parameters from the evaluation section."""
    return {name: getattr(config.evaluation, name) for name in EVALUATE_FIELDS}
