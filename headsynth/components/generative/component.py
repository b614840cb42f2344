"""FitGenerativeModel: fits GMMs and conditional GANs to realistic parameter vectors.

    FaceModel ──► FitGenerativeModel ──► SampleParameters (sampler "gmm" or "cgan")

List parameters are comma-separated strings ("1,5,25"); see `store.py` for
the artifact's layout and `sources.py` for the `source` values.
"""

# No `from __future__ import annotations`: TFX parses these annotations at import time.

import os

from tfx.dsl.component.experimental.decorators import component
from tfx.v1.dsl.components import InputArtifact, OutputArtifact, Parameter

from headsynth.components.face_model.component import MODEL_FILE
from headsynth.components.generative.artifact import GenerativeModel
from headsynth.components.generative.sources import realistic_vectors
from headsynth.components.generative.store import GenerativeSettings, fit_generative_model
from headsynth.config import GenerativeConfig
from headsynth.core.errors import ConfigError
from headsynth.core.progress import report
from headsynth.data_schemas.artifacts import FaceModel
from headsynth.morphable.model import load_npz


def split_list(text: str) -> list[str]:
    """ "a, b,,c" -> ["a", "b", "c"]."""
    return [part.strip() for part in text.split(",") if part.strip()]


def join_list(values) -> str:
    """(1, 2, 4) -> "1,2,4": list settings travel as comma-separated TFX string parameters."""
    return ",".join(str(value) for value in values)


# The config's defaults of the list settings, as the string parameters take them.
DEFAULT_PHOTOS = join_list(GenerativeConfig.photos)
DEFAULT_GMM_COMPONENTS = join_list(GenerativeConfig.gmm_components)
DEFAULT_GMM_COVARIANCE_TYPES = join_list(GenerativeConfig.gmm_covariance_types)
DEFAULT_CGAN_VARIANTS = join_list(GenerativeConfig.cgan_variants)


def fit_from_parameters(
    model_path: str,
    out_dir: str,
    source: str = GenerativeConfig.source,
    heldout_size: int = GenerativeConfig.heldout_size,
    source_scale: float = GenerativeConfig.source_scale,
    photos_model: str = GenerativeConfig.photos_model,
    photos: str = DEFAULT_PHOTOS,
    photos_labels: str = GenerativeConfig.photos_labels,
    gmm_components: str = DEFAULT_GMM_COMPONENTS,
    gmm_covariance_types: str = DEFAULT_GMM_COVARIANCE_TYPES,
    gmm_selection: str = GenerativeConfig.gmm_selection,
    gmm_reg_covar: float = GenerativeConfig.gmm_reg_covar,
    cgan_variants: str = DEFAULT_CGAN_VARIANTS,
    cgan_steps: int = GenerativeConfig.cgan_steps,
    cgan_batch_size: int = GenerativeConfig.cgan_batch_size,
    cgan_learning_rate: float = GenerativeConfig.cgan_learning_rate,
    seed: int = GenerativeConfig.seed,
) -> dict:
    """The component's body as a plain function (string lists as the component takes them).

    Raises:
        ConfigError, ParameterError: naming what is wrong with the settings or the vectors.
    """
    try:
        components = tuple(int(k) for k in split_list(gmm_components))
    except ValueError:
        raise ConfigError(f"GMM component counts must be integers. Received: {gmm_components!r}.") from None
    settings = GenerativeSettings(
        gmm_components=components,
        gmm_covariance_types=tuple(split_list(gmm_covariance_types)),
        gmm_selection=gmm_selection,
        gmm_reg_covar=gmm_reg_covar,
        cgan_variants=tuple(split_list(cgan_variants)),
        cgan_steps=cgan_steps,
        cgan_batch_size=cgan_batch_size,
        cgan_learning_rate=cgan_learning_rate,
        seed=seed,
    )
    settings.check()
    model = load_npz(model_path)
    realistic = realistic_vectors(
        source, model, source_scale, photos_model, split_list(photos), photos_labels, seed, heldout_size
    )
    return fit_generative_model(realistic, out_dir, settings)


@component
def FitGenerativeModel(
    face_model: InputArtifact[FaceModel],
    generative_model: OutputArtifact[GenerativeModel],
    source: Parameter[str] = GenerativeConfig.source,
    heldout_size: Parameter[int] = GenerativeConfig.heldout_size,
    source_scale: Parameter[float] = GenerativeConfig.source_scale,
    source_fingerprint: Parameter[str] = "",
    photos_model: Parameter[str] = GenerativeConfig.photos_model,
    photos: Parameter[str] = DEFAULT_PHOTOS,
    photos_labels: Parameter[str] = GenerativeConfig.photos_labels,
    gmm_components: Parameter[str] = DEFAULT_GMM_COMPONENTS,
    gmm_covariance_types: Parameter[str] = DEFAULT_GMM_COVARIANCE_TYPES,
    gmm_selection: Parameter[str] = GenerativeConfig.gmm_selection,
    gmm_reg_covar: Parameter[float] = GenerativeConfig.gmm_reg_covar,
    cgan_variants: Parameter[str] = DEFAULT_CGAN_VARIANTS,
    cgan_steps: Parameter[int] = GenerativeConfig.cgan_steps,
    cgan_batch_size: Parameter[int] = GenerativeConfig.cgan_batch_size,
    cgan_learning_rate: Parameter[float] = GenerativeConfig.cgan_learning_rate,
    seed: Parameter[int] = GenerativeConfig.seed,
) -> None:
    """Writes the fitted models (see `store.py`); `source_fingerprint` (a file's hash) keys the cache."""
    del source_fingerprint  # only part of the cache key
    index = fit_from_parameters(
        os.path.join(face_model.uri, MODEL_FILE),
        generative_model.uri,
        source,
        heldout_size,
        source_scale,
        photos_model,
        photos,
        photos_labels,
        gmm_components,
        gmm_covariance_types,
        gmm_selection,
        gmm_reg_covar,
        cgan_variants,
        cgan_steps,
        cgan_batch_size,
        cgan_learning_rate,
        seed,
    )
    selected = index["gmm"]["selected"]
    generative_model.set_int_custom_property("num_vectors", index["num_vectors"])
    generative_model.set_int_custom_property("gmm_components", selected["components"])
    generative_model.set_string_custom_property("cgan_variants", ",".join(index["cgan"]["variants"]))
    report(
        "FitGenerativeModel",
        f"{index['num_vectors']} vectors from {index['source']}: GMM {selected['components']} "
        f"({selected['covariance_type']}) selected; CGANs: {', '.join(index['cgan']['variants']) or 'none'}",
    )
