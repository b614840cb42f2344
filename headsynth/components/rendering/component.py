"""RenderExamples: the Beam render job as a TFX component."""

# No `from __future__ import annotations`: TFX parses these annotations at import time.

import os

import apache_beam as beam
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact_utils, standard_artifacts
from tfx.v1.dsl.components import BeamComponentParameter, InputArtifact, OutputArtifact, Parameter

from headsynth.components.face_model.component import MODEL_FILE
from headsynth.components.rendering.render_job import RenderJob, run_render_job
from headsynth.components.sampling.parameter_store import PARAMETERS_FILE
from headsynth.data_schemas.artifacts import FaceModel, Parameters
from headsynth.progress import report


@component(use_beam=True)
def RenderExamples(
    face_model: InputArtifact[FaceModel],
    parameters: InputArtifact[Parameters],
    examples: OutputArtifact[standard_artifacts.Examples],
    scenario: Parameter[str] = "angle",
    eval_scenario: Parameter[str] = "",
    image_size: Parameter[int] = 64,
    batch_size: Parameter[int] = 32,
    num_shards: Parameter[int] = 2,
    seed: Parameter[int] = 0,
    scale: Parameter[float] = 1.6,
    image_format: Parameter[str] = "png",
    backgrounds: Parameter[str] = "builtin",
    antialias: Parameter[int] = 1,
    store_mask: Parameter[int] = 0,
    store_depth: Parameter[int] = 0,
    store_landmarks: Parameter[int] = 1,
    beam_pipeline: BeamComponentParameter[beam.Pipeline] = None,
) -> None:
    """Renders train and eval examples to gzipped TFRecord shards (Split-train, Split-eval)."""
    job = RenderJob(
        model_path=os.path.join(face_model.uri, MODEL_FILE),
        parameters_path=os.path.join(parameters.uri, PARAMETERS_FILE),
        output_dir=examples.uri,
        scenario=scenario,
        eval_scenario=eval_scenario or scenario,
        image_size=image_size,
        batch_size=batch_size,
        num_shards=num_shards,
        seed=seed,
        scale=scale,
        image_format=image_format,
        backgrounds=backgrounds,
        antialias=antialias,
        store_mask=bool(store_mask),
        store_depth=bool(store_depth),
        store_landmarks=bool(store_landmarks),
    )
    report("RenderExamples", f"rendering scenario {scenario!r} at {image_size}x{image_size}")
    summary = run_render_job(job, beam_pipeline=beam_pipeline)
    examples.split_names = artifact_utils.encode_split_names(list(summary["counts"]))
    for split, count in summary["counts"].items():
        examples.set_int_custom_property(f"num_{split}", count)
    report("RenderExamples", f"wrote {summary['counts']} examples to {examples.uri}")
