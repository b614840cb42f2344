"""SampleParameters: draws the q of every train and eval example."""

# No `from __future__ import annotations`: TFX parses these annotations at import time.

import os

from tfx.dsl.component.experimental.decorators import component
from tfx.v1.dsl.components import InputArtifact, OutputArtifact, Parameter

from headsynth.components.face_model.component import MODEL_FILE
from headsynth.components.generative.artifact import GenerativeModel
from headsynth.components.generative.store import REALISTIC_FILE
from headsynth.components.sampling.samplers import (
    FITTED_SAMPLERS,
    GENERATIVE_SAMPLERS,
    repeat_identities,
    sample_parameters,
)
from headsynth.components.sampling.specs import parse_sampler_spec
from headsynth.config import SamplingConfig
from headsynth.core.errors import ConfigError
from headsynth.core.progress import report
from headsynth.data_schemas.artifacts import FaceModel, Parameters
from headsynth.data_schemas.parameter_store import PARAMETERS_FILE, save_split_parameters
from headsynth.morphable.model import load_npz


def _numbers(text: str, what: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"{what} must be comma-separated numbers. Received: {text!r}.") from None


def generative_options(
    sampler: str,
    model_dir: str,
    scale: float,
    gan_ages: str = "",
    gan_sexes: str = "",
    gmm_components: int = 0,
    cgan_variant: str = "",
) -> dict:
    """The options of a sampler that draws from FitGenerativeModel's folder ({} for the others).

    "gmm" and "cgan" draw from its fitted models, the fitted samplers
    (fitted_uniform, fitted_normal, fitted_data) around the realistic vectors
    it was fitted to; all return q for rendering at `scale`. A GMM size or GAN
    variant the spec sets (gmm:25, cgan:cvgan1) is not repeated here.

    Raises:
        ConfigError: if such a sampler has no fitted model, or a list does not parse.
    """
    name = parse_sampler_spec(sampler, key="sampler").name
    if name not in (*GENERATIVE_SAMPLERS, *FITTED_SAMPLERS):
        return {}
    if not model_dir:
        raise ConfigError(
            f"Sampler {sampler!r} needs the generative_model input (a FitGenerativeModel artifact).",
            "Build the pipeline with create_pipeline, which adds FitGenerativeModel for it.",
        )
    if name in FITTED_SAMPLERS:
        return {"parameter_file": os.path.join(model_dir, REALISTIC_FILE), "target_scale": scale}
    options = {"model_dir": model_dir, "target_scale": scale}
    if name == "gmm":
        options.update({"components": gmm_components} if gmm_components else {})
    else:
        options.update(
            {"variant": cgan_variant} if cgan_variant else {},
            ages=_numbers(gan_ages, "GAN ages"),
            sexes=_numbers(gan_sexes, "GAN sexes"),
        )
    return options


@component
def SampleParameters(
    face_model: InputArtifact[FaceModel],
    parameters: OutputArtifact[Parameters],
    generative_model: InputArtifact[GenerativeModel] = None,
    sampler: Parameter[str] = SamplingConfig.sampler,
    num_train: Parameter[int] = SamplingConfig.num_train,
    num_eval: Parameter[int] = SamplingConfig.num_eval,
    seed: Parameter[int] = SamplingConfig.seed,
    scale: Parameter[float] = SamplingConfig.scale,
    gan_ages: Parameter[str] = "",
    gan_sexes: Parameter[str] = "",
    gmm_components: Parameter[int] = 0,
    cgan_variant: Parameter[str] = "",
    renders_per_identity: Parameter[int] = SamplingConfig.renders_per_identity,
) -> None:
    """Writes `parameters.npz`; train and eval come from independent streams of `seed`.

    `sampler` is a spec `name[:a,b,...]` ("naive_uniform:3.5"). The generative
    samplers ("gmm", "cgan") draw from `generative_model`, the fitted ones
    around the realistic vectors it holds; they return q for rendering at
    `scale` (the models are fitted in units of sigma); the GAN at `gan_ages` x
    `gan_sexes` (comma-separated; sex 0 female, 1 male; empty: drawn from its
    training labels). `gmm_components` picks a fitted mixture (0: the selected
    one), `cgan_variant` a GAN. With `renders_per_identity` k > 1, the train
    split holds ceil(num_train / k) drawn vectors, each repeated k times in a
    row (every repeat gets its own scene when rendered).
    """
    width = load_npz(os.path.join(face_model.uri, MODEL_FILE)).num_parameters
    options = generative_options(
        sampler,
        generative_model.uri if generative_model is not None else "",
        scale,
        gan_ages,
        gan_sexes,
        gmm_components,
        cgan_variant,
    )
    splits = {
        "train": repeat_identities(
            sample_parameters(
                sampler, -(-num_train // renders_per_identity), width, seed=[seed, 0], options=options
            ),
            renders_per_identity,
            num_train,
        ),
        "eval": sample_parameters(sampler, num_eval, width, seed=[seed, 1], options=options),
    }
    save_split_parameters(os.path.join(parameters.uri, PARAMETERS_FILE), splits, sampler=sampler, seed=seed)
    parameters.set_int_custom_property("num_train", num_train)
    parameters.set_int_custom_property("num_eval", num_eval)
    report("SampleParameters", f"{sampler}: {num_train} train + {num_eval} eval vectors of width {width}")
