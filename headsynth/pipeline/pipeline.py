"""The TFX pipeline, built from one `HeadsynthConfig`.

FaceModel -> SampleParameters -> RenderExamples (Beam) -> StatisticsGen / ExampleValidator
          -> Trainer (run_fn by import path) -> Evaluate -> Pusher

With sampling.sampler "gmm" or "cgan", FitGenerativeModel (fed by FaceModel)
fits the generative models SampleParameters draws from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from tfx import v1 as tfx

from headsynth import wiring
from headsynth.components.evaluation.component import Evaluate
from headsynth.components.face_model.component import FaceModel
from headsynth.components.generative.component import FitGenerativeModel
from headsynth.components.rendering.beam_runners import other_components_beam_args
from headsynth.components.rendering.component import RenderExamples
from headsynth.components.sampling.component import SampleParameters
from headsynth.config import HeadsynthConfig
from headsynth.data_schemas.features import SCHEMA_FILE

RUN_FN = "headsynth.components.training.trainer.run_fn"


@dataclass(frozen=True)
class RunPaths:
    """Where one run writes.

    Attributes:
        root: the run's output folder (the Trainer's backups live under it).
        pipeline_root: TFX artifacts, one folder per component (a local folder or a URI such as gs://...).
        metadata: the ML Metadata SQLite database.
        serving: the Pusher's destination (TF Serving's model base path).
    """

    root: str
    pipeline_root: str
    metadata: str
    serving: str

    @classmethod
    def under(cls, root: str | os.PathLike, model_name: str, pipeline_root: str = "") -> RunPaths:
        """A local run's paths: everything under `root`, or the artifacts and the pushed model
        under `pipeline_root` (e.g. gs://bucket/headsynth) when one is given.

        The ML Metadata database, config.json, summary.json and the Trainer's
        backups stay in the local `root` either way.
        """
        root = os.path.abspath(root)
        if pipeline_root:
            pipeline_root = pipeline_root.rstrip("/")
            return cls(
                root=root,
                pipeline_root=pipeline_root,
                metadata=os.path.join(root, "metadata.sqlite"),
                serving=f"{pipeline_root}/serving/{model_name}",
            )
        return cls(
            root=root,
            pipeline_root=os.path.join(root, "pipeline_root"),
            metadata=os.path.join(root, "metadata.sqlite"),
            serving=os.path.join(root, "serving", model_name),
        )


def create_pipeline(
    config: HeadsynthConfig,
    paths: RunPaths,
    metadata_connection_config=None,
    schema_file: str = str(SCHEMA_FILE),
) -> tfx.dsl.Pipeline:
    """Builds the pipeline for one configuration, as TFX's penguin template does.

    Args:
        config: the configuration; `headsynth.wiring` turns it into every component's parameters.
        paths: where the run writes (artifacts, serving, trainer backups).
        metadata_connection_config: ML Metadata's connection (None where the
            orchestrator provides it, as Kubeflow does).
        schema_file: the schema ImportSchemaGen reads (its path where the pipeline runs).
    """
    data = data_components(config)
    model = model_components(config, paths, examples=data[-1].outputs["examples"])
    schema = tfx.components.ImportSchemaGen(schema_file=schema_file)
    # The render step may run on Beam's Dask runner; StatisticsGen cannot (other_components_beam_args).
    statistics = tfx.components.StatisticsGen(examples=data[-1].outputs["examples"]).with_beam_pipeline_args(
        other_components_beam_args(config.rendering.beam_args)
    )
    validator = tfx.components.ExampleValidator(
        statistics=statistics.outputs["statistics"], schema=schema.outputs["schema"]
    )
    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline.name,
        pipeline_root=paths.pipeline_root,
        components=[*data, schema, statistics, validator, *model],
        enable_cache=config.pipeline.enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(config.rendering.beam_args),
    )


def data_components(config: HeadsynthConfig) -> list:
    """FaceModel, (FitGenerativeModel,) SampleParameters and RenderExamples, the last one last."""
    face_model = FaceModel(**wiring.face_model_parameters(config))
    generative_nodes, generative_input = [], {}
    if wiring.uses_generative_model(config):
        fit = FitGenerativeModel(
            face_model=face_model.outputs["model"], **wiring.generative_parameters(config)
        )
        generative_nodes = [fit]
        generative_input = {"generative_model": fit.outputs["generative_model"]}
    parameters = SampleParameters(
        face_model=face_model.outputs["model"], **generative_input, **wiring.sampling_parameters(config)
    )
    render = RenderExamples(
        face_model=face_model.outputs["model"],
        parameters=parameters.outputs["parameters"],
        **wiring.render_parameters(config),
    )
    return [face_model, *generative_nodes, parameters, render]


def model_components(config: HeadsynthConfig, paths: RunPaths, examples) -> list:
    """Trainer, Evaluate and Pusher on the rendered `examples` channel."""
    trainer = tfx.components.Trainer(
        run_fn=RUN_FN,
        examples=examples,
        train_args=tfx.proto.TrainArgs(num_steps=config.training.train_steps),
        eval_args=tfx.proto.EvalArgs(num_steps=config.training.eval_steps),
        # backup_root: where a killed Trainer's next attempt finds its last backup
        # (a new execution gets new output folders, so backups live beside them).
        custom_config={
            **wiring.train_settings(config).to_dict(),
            "backup_root": os.path.join(paths.root, "trainer_backups"),
        },
    )
    evaluate = Evaluate(
        model=trainer.outputs["model"],
        examples=examples,
        model_run=trainer.outputs["model_run"],
        **wiring.evaluate_parameters(config),
    )
    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluate.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=paths.serving)
        ),
    )
    return [trainer, evaluate, pusher]
