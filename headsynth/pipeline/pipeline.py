"""The TFX pipeline, built from one `HeadsynthConfig`.

FaceModel -> SampleParameters -> RenderExamples (Beam) -> StatisticsGen / ExampleValidator
          -> Trainer (run_fn by import path) -> Evaluate -> Pusher

With sampling.sampler "gmm" or "cgan", FitGenerativeModel (fed by FaceModel)
fits the generative models SampleParameters draws from.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from tfx import v1 as tfx

from headsynth.config import HeadsynthConfig

RUN_FN = "headsynth.components.training.trainer.run_fn"


@dataclass(frozen=True)
class RunPaths:
    """Where one run writes.

    Attributes:
        root: the run's output folder.
        pipeline_root: TFX artifacts, one folder per component.
        metadata: the ML Metadata SQLite database.
        serving: the Pusher's destination (TF Serving's model base path).
    """

    root: str
    pipeline_root: str
    metadata: str
    serving: str

    @classmethod
    def under(cls, root: str | os.PathLike, model_name: str) -> RunPaths:
        root = os.path.abspath(root)
        return cls(
            root=root,
            pipeline_root=os.path.join(root, "pipeline_root"),
            metadata=os.path.join(root, "metadata.sqlite"),
            serving=os.path.join(root, "serving", model_name),
        )


def file_fingerprint(source: str) -> str:
    """sha256 of a model file, so a changed file invalidates the FaceModel cache."""
    if source == "builtin":
        from headsynth.components.face_model.builtin import builtin_model_path

        path = builtin_model_path()
    else:
        path = Path(source)
    if not path.exists():
        return "missing"
    return hashlib.sha256(path.read_bytes()).hexdigest()


def generative_model_node(config: HeadsynthConfig, face_model_channel):
    """FitGenerativeModel for the "gmm" and "cgan" samplers (GANs are trained only for "cgan")."""
    from headsynth.components.generative.component import FitGenerativeModel

    generative = config.generative
    source = generative.source
    is_file = source not in ("population", "photos")
    return FitGenerativeModel(
        face_model=face_model_channel,
        source=source,
        source_scale=generative.source_scale,
        source_fingerprint=file_fingerprint(source) if is_file else "",
        photos_model=generative.photos_model,
        photos=",".join(generative.photos),
        photos_labels=generative.photos_labels,
        gmm_components=",".join(str(k) for k in generative.gmm_components),
        gmm_covariance_types=",".join(generative.gmm_covariance_types),
        gmm_selection=generative.gmm_selection,
        gmm_reg_covar=generative.gmm_reg_covar,
        cgan_variants=",".join(generative.cgan_variants) if config.sampling.sampler == "cgan" else "",
        cgan_steps=generative.cgan_steps,
        cgan_batch_size=generative.cgan_batch_size,
        cgan_learning_rate=generative.cgan_learning_rate,
        seed=generative.seed,
    )


def create_pipeline(config: HeadsynthConfig, paths: RunPaths) -> tfx.dsl.Pipeline:
    """Builds the pipeline for one configuration."""
    from headsynth.components.evaluation.component import Evaluate, evaluate_parameters
    from headsynth.components.face_model.component import FaceModel
    from headsynth.components.rendering.component import RenderExamples
    from headsynth.components.sampling.component import SampleParameters
    from headsynth.components.training.trainer import TrainSettings
    from headsynth.data_schemas.features import SCHEMA_FILE

    face_model = FaceModel(
        source=config.face_model.source,
        shape_components=config.face_model.shape_components,
        texture_components=config.face_model.texture_components,
        source_fingerprint=file_fingerprint(config.face_model.source),
    )
    generative_nodes = []
    if config.sampling.sampler in ("gmm", "cgan"):
        fit = generative_model_node(config, face_model.outputs["model"])
        generative_nodes = [fit]
        generative = config.generative
        parameters = SampleParameters(
            face_model=face_model.outputs["model"],
            generative_model=fit.outputs["generative_model"],
            sampler=config.sampling.sampler,
            num_train=config.sampling.num_train,
            num_eval=config.sampling.num_eval,
            seed=config.sampling.seed,
            scale=config.sampling.scale,
            gan_ages=",".join(f"{a:g}" for a in generative.gan_ages),
            gan_sexes=",".join(f"{s:g}" for s in generative.gan_sexes),
        )
    else:
        parameters = SampleParameters(
            face_model=face_model.outputs["model"],
            sampler=config.sampling.sampler,
            num_train=config.sampling.num_train,
            num_eval=config.sampling.num_eval,
            seed=config.sampling.seed,
        )
    render = RenderExamples(
        face_model=face_model.outputs["model"],
        parameters=parameters.outputs["parameters"],
        scenario=config.rendering.scenario,
        eval_scenario=config.rendering.eval_scenario or config.rendering.scenario,
        image_size=config.rendering.image_size,
        batch_size=config.rendering.batch_size,
        num_shards=config.rendering.num_shards,
        seed=config.sampling.seed,
        scale=config.sampling.scale,
        image_format=config.rendering.image_format,
        backgrounds=config.rendering.backgrounds,
        antialias=config.rendering.antialias,
        store_mask=int(config.rendering.store_mask),
        store_depth=int(config.rendering.store_depth),
        store_landmarks=int(config.rendering.store_landmarks),
    )
    schema = tfx.components.ImportSchemaGen(schema_file=str(SCHEMA_FILE))
    statistics = tfx.components.StatisticsGen(examples=render.outputs["examples"])
    validator = tfx.components.ExampleValidator(
        statistics=statistics.outputs["statistics"], schema=schema.outputs["schema"]
    )
    settings = TrainSettings.from_dict(
        {**dataclasses.asdict(config.training), "image_size": config.rendering.image_size}
    )
    trainer = tfx.components.Trainer(
        run_fn=RUN_FN,
        examples=render.outputs["examples"],
        train_args=tfx.proto.TrainArgs(num_steps=config.training.train_steps),
        eval_args=tfx.proto.EvalArgs(num_steps=config.training.eval_steps),
        # backup_root: where a killed Trainer's next attempt finds its last backup
        # (a new execution gets new output folders, so backups live beside them).
        custom_config={
            **dataclasses.asdict(settings),
            "backup_root": os.path.join(paths.root, "trainer_backups"),
        },
    )
    evaluate = Evaluate(
        model=trainer.outputs["model"],
        examples=render.outputs["examples"],
        model_run=trainer.outputs["model_run"],
        **evaluate_parameters(config.evaluation),
    )
    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluate.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=paths.serving)
        ),
    )
    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline.name,
        pipeline_root=paths.pipeline_root,
        components=[
            face_model,
            *generative_nodes,
            parameters,
            render,
            schema,
            statistics,
            validator,
            trainer,
            evaluate,
            pusher,
        ],
        enable_cache=config.pipeline.enable_cache,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            paths.metadata
        ),
        beam_pipeline_args=list(config.rendering.beam_args),
    )
