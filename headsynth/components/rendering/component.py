"""RenderExamples: the Beam render job as a TFX component."""

# No `from __future__ import annotations`: TFX parses these annotations at import time.

import os

import apache_beam as beam
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact_utils, standard_artifacts
from tfx.v1.dsl.components import BeamComponentParameter, InputArtifact, OutputArtifact, Parameter

from headsynth.components.face_model.component import MODEL_FILE
from headsynth.components.rendering.render_job import RenderJob, run_render_job
from headsynth.config import RenderConfig, SamplingConfig
from headsynth.core.progress import report
from headsynth.data_schemas.artifacts import FaceModel, Parameters
from headsynth.data_schemas.parameter_store import PARAMETERS_FILE


def job_from_parameters(
    face_model_uri: str, parameters_uri: str, examples_uri: str, **parameters
) -> RenderJob:
    """The job RenderExamples runs: its parameters (`headsynth.wiring.render_parameters`) plus artifact paths.

    TFX parameters have no bool type, so flags arrive as ints and become bools here.
    """
    flags = {name: bool(parameters.pop(name)) for name in ("store_mask", "store_depth", "store_landmarks")}
    return RenderJob(
        model_path=os.path.join(face_model_uri, MODEL_FILE),
        parameters_path=os.path.join(parameters_uri, PARAMETERS_FILE),
        output_dir=examples_uri,
        **parameters,
        **flags,
    )


@component(use_beam=True)
def RenderExamples(
    face_model: InputArtifact[FaceModel],
    parameters: InputArtifact[Parameters],
    examples: OutputArtifact[standard_artifacts.Examples],
    scenario: Parameter[str] = RenderConfig.scenario,
    eval_scenario: Parameter[str] = RenderConfig.scenario,
    image_size: Parameter[int] = RenderConfig.image_size,
    batch_size: Parameter[int] = RenderConfig.batch_size,
    num_shards: Parameter[int] = RenderConfig.num_shards,
    seed: Parameter[int] = SamplingConfig.seed,
    scale: Parameter[float] = SamplingConfig.scale,
    image_format: Parameter[str] = RenderConfig.image_format,
    backgrounds: Parameter[str] = RenderConfig.backgrounds,
    antialias: Parameter[int] = RenderConfig.antialias,
    store_mask: Parameter[int] = int(RenderConfig.store_mask),
    store_depth: Parameter[int] = int(RenderConfig.store_depth),
    store_landmarks: Parameter[int] = int(RenderConfig.store_landmarks),
    framing: Parameter[str] = RenderConfig.framing,
    render_size: Parameter[int] = RenderConfig.render_size,
    beam_pipeline: BeamComponentParameter[beam.Pipeline] = None,
) -> None:
    """Renders train and eval examples to gzipped TFRecord shards (Split-train, Split-eval)."""
    job = job_from_parameters(
        face_model.uri,
        parameters.uri,
        examples.uri,
        scenario=scenario,
        eval_scenario=eval_scenario,
        image_size=image_size,
        batch_size=batch_size,
        num_shards=num_shards,
        seed=seed,
        scale=scale,
        image_format=image_format,
        backgrounds=backgrounds,
        antialias=antialias,
        store_mask=store_mask,
        store_depth=store_depth,
        store_landmarks=store_landmarks,
        framing=framing,
        render_size=render_size,
    )
    framed = (
        f", cropped around the face from {job.rendered_size}x{job.rendered_size}" if framing == "face" else ""
    )
    report("RenderExamples", f"rendering scenario {scenario!r} at {image_size}x{image_size}{framed}")
    summary = run_render_job(job, beam_pipeline=beam_pipeline)
    examples.split_names = artifact_utils.encode_split_names(list(summary["counts"]))
    for split, count in summary["counts"].items():
        examples.set_int_custom_property(f"num_{split}", count)
    report("RenderExamples", f"wrote {summary['counts']} examples to {examples.uri}")
