"""FaceModel: loads (and truncates) a morphable model into a pipeline artifact."""

# No `from __future__ import annotations`: TFX parses these annotations at import time.

import os

from tfx.dsl.component.experimental.decorators import component
from tfx.v1.dsl.components import OutputArtifact, Parameter

from headsynth.config import FaceModelConfig
from headsynth.core.progress import report
from headsynth.data_schemas.artifacts import FaceModel as FaceModelArtifact
from headsynth.morphable.loading import load_model

MODEL_FILE = "model.npz"


@component
def FaceModel(
    model: OutputArtifact[FaceModelArtifact],
    source: Parameter[str] = FaceModelConfig.source,
    shape_components: Parameter[int] = FaceModelConfig.shape_components,
    texture_components: Parameter[int] = FaceModelConfig.texture_components,
    source_fingerprint: Parameter[str] = "",
) -> None:
    """Writes the model as `model.npz`; `source_fingerprint` (the file's hash) keys the cache."""
    del source_fingerprint  # only part of the cache key
    loaded = load_model(source, shape_components, texture_components)
    loaded.save_npz(os.path.join(model.uri, MODEL_FILE))
    model.set_int_custom_property("num_parameters", loaded.num_parameters)
    model.set_int_custom_property("num_vertices", loaded.num_vertices)
    report("FaceModel", f"{loaded.name}: {loaded.num_parameters} parameters, {loaded.num_vertices} vertices")
