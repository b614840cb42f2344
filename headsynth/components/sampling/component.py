"""SampleParameters: draws the q of every train and eval example."""

# No `from __future__ import annotations`: TFX parses these annotations at import time.

import os

from tfx.dsl.component.experimental.decorators import component
from tfx.v1.dsl.components import InputArtifact, OutputArtifact, Parameter

from headsynth.components.face_model.component import MODEL_FILE
from headsynth.components.face_model.morphable_model import load_npz
from headsynth.components.sampling.parameter_store import PARAMETERS_FILE, save_split_parameters
from headsynth.components.sampling.samplers import sample_parameters
from headsynth.data_schemas.artifacts import FaceModel, Parameters
from headsynth.progress import report


@component
def SampleParameters(
    face_model: InputArtifact[FaceModel],
    parameters: OutputArtifact[Parameters],
    sampler: Parameter[str] = "paper_uniform",
    num_train: Parameter[int] = 1000,
    num_eval: Parameter[int] = 200,
    seed: Parameter[int] = 0,
) -> None:
    """Writes `parameters.npz`; train and eval come from independent streams of `seed`."""
    width = load_npz(os.path.join(face_model.uri, MODEL_FILE)).num_parameters
    splits = {
        "train": sample_parameters(sampler, num_train, width, seed=[seed, 0]),
        "eval": sample_parameters(sampler, num_eval, width, seed=[seed, 1]),
    }
    save_split_parameters(os.path.join(parameters.uri, PARAMETERS_FILE), splits, sampler=sampler, seed=seed)
    parameters.set_int_custom_property("num_train", num_train)
    parameters.set_int_custom_property("num_eval", num_eval)
    report("SampleParameters", f"{sampler}: {num_train} train + {num_eval} eval vectors of width {width}")
