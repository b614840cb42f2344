"""Both studies render and train with the pipeline's settings: the same RenderJob and TrainSettings.

The pipeline's path is `wiring.render_parameters` -> RenderExamples'
`job_from_parameters`, and `wiring.train_settings`; each study's path is the
function it builds its jobs with. Only the paths and what a study changes on
purpose (its scenarios, its steps and backbone, scale 1 for sigma units) may
differ, and those are asserted one by one.
"""

import dataclasses

from headsynth import wiring
from headsynth.components.rendering.component import job_from_parameters
from headsynth.components.rendering.render_job import RenderJob
from headsynth.components.training.settings import TrainSettings
from headsynth.config import TrainingConfig, apply_overrides, get_preset
from headsynth.study.samplers import plan_study
from headsynth.study.samplers_data import sampler_render_job
from headsynth.study.samplers_networks import sampler_train_settings
from headsynth.study.variability_result import study_scenarios

PATHS = ("model.npz", "parameters.npz", "examples")


def non_default_config(photo_folder, *more):
    return apply_overrides(
        get_preset("ci"),
        [f"rendering.backgrounds={photo_folder}", "rendering.antialias=2", "sampling.scale=1.0", *more],
    )


def pipeline_job(config) -> RenderJob:
    return job_from_parameters(
        "face_model_uri", "parameters_uri", "examples_uri", **wiring.render_parameters(config)
    )


def assert_same_fields(cls, ours, theirs, *, skip=()):
    for field in dataclasses.fields(cls):
        if field.name not in skip:
            assert getattr(ours, field.name) == getattr(theirs, field.name), field.name


def assert_same_settings(ours: TrainSettings, theirs: TrainSettings, *, skip=()):
    assert_same_fields(TrainingConfig, ours.training, theirs.training, skip=skip)
    assert_same_fields(TrainSettings, ours, theirs, skip=("training", "scale"))


def test_the_config_is_not_the_default(photo_folder):
    job = pipeline_job(non_default_config(photo_folder))
    assert (job.backgrounds, job.antialias, job.scale) == (str(photo_folder), 2, 1.0)
    assert job.model_path.startswith("face_model_uri") and job.output_dir == "examples_uri"


def test_variability_study_renders_and_trains_like_the_pipeline(photo_folder):
    # Without a variability section of its own, the study renders and trains as the pipeline does.
    config = non_default_config(photo_folder, "evaluation.study_scenarios=none,angle_bg")
    pipeline = pipeline_job(config)
    for scenario in study_scenarios(config)[0]:
        job = wiring.variability_render_job(config, *PATHS, scenario)
        assert (job.model_path, job.parameters_path, job.output_dir) == PATHS
        assert (job.scenario, job.eval_scenario, job.store_mask) == (scenario, scenario, True)
        assert_same_fields(
            RenderJob,
            job,
            pipeline,
            skip=(*wiring.RENDER_JOB_PATHS, "scenario", "eval_scenario", "store_mask"),
        )
    ours, theirs = wiring.variability_train_settings(config, 0), wiring.train_settings(config)
    assert_same_settings(ours, theirs)
    assert ours.scale == theirs.scale == 1.0 and ours == theirs
    second = wiring.variability_train_settings(config, 1)
    assert second.training.seed == theirs.training.seed + 1
    assert_same_settings(second, theirs, skip=("seed",))


def test_the_variability_section_overrides_the_studys_data_and_network(photo_folder):
    config = non_default_config(
        photo_folder,
        "variability.image_size=48",
        "variability.backbone=small_cnn",
        "variability.train_steps=77",
        "variability.batch_size=5",
        "variability.steps_per_epoch=11",
    )
    job = wiring.variability_render_job(config, *PATHS, "all")
    assert job.image_size == 48 and pipeline_job(config).image_size == config.rendering.image_size
    settings = wiring.variability_train_settings(config, 2)
    training = settings.training
    assert (settings.image_size, training.backbone, training.train_steps) == (48, "small_cnn", 77)
    assert (training.batch_size, training.steps_per_epoch, training.seed) == (5, 11, config.training.seed + 2)


def test_the_variability_study_trains_the_papers_end_to_end_network_whatever_the_main_job_trains():
    # quickstart's main job trains a head on cached features of a frozen face-mesh stem; the paper's
    # networks learn from the image, through one fully connected layer.
    config = apply_overrides(get_preset("quickstart"), ["variability.base_learning_rate=0.002"])
    assert config.training.stem_mode == "frozen" and config.training.cache_stem_features
    training = wiring.variability_train_settings(config, 0).training
    assert (training.backbone, training.stem_mode, training.cache_stem_features) == (
        "small_cnn",
        "trained",
        False,
    )
    assert (training.head, training.base_learning_rate, training.stem_weights) == ("linear", 0.002, "")
    same_backbone = apply_overrides(config, ["variability.backbone=", "variability.head="])
    training = wiring.variability_train_settings(same_backbone, 0).training
    assert (training.backbone, training.head) == (config.training.backbone, config.training.head)
    assert (training.stem_mode, training.cache_stem_features) == ("trained", False)


def test_samplers_study_renders_and_trains_like_the_pipeline(photo_folder):
    config = non_default_config(photo_folder, "rendering.scenario=angle_bg", "rendering.eval_scenario=all")
    plan = plan_study(config)
    job = sampler_render_job(config, plan, *PATHS)
    pipeline = pipeline_job(config)
    assert (job.model_path, job.parameters_path, job.output_dir) == PATHS
    # One scenario for the training sets and the shared test set alike: the training scenario.
    assert (pipeline.scenario, pipeline.eval_scenario) == ("angle_bg", "all")
    assert (job.scenario, job.eval_scenario) == ("angle_bg", "angle_bg")
    assert job.scale == 1.0  # q in sigma units
    assert_same_fields(RenderJob, job, pipeline, skip=(*wiring.RENDER_JOB_PATHS, "eval_scenario"))
    ours, theirs = sampler_train_settings(config, plan), wiring.train_settings(config)
    assert (
        (ours.training.train_steps, ours.training.backbone)
        == (plan.train_steps, plan.backbone)
        == (20, "tiny_cnn")
    )
    assert theirs.training.train_steps == 200
    assert_same_settings(ours, theirs, skip=("train_steps", "backbone"))
    assert ours.scale == theirs.scale == 1.0


def test_samplers_study_renders_and_trains_at_scale_1_whatever_the_config():
    config = get_preset("ci")
    plan = plan_study(config)
    assert config.sampling.scale != 1.0
    assert sampler_render_job(config, plan, *PATHS).scale == 1.0
    assert sampler_train_settings(config, plan).scale == 1.0
    assert pipeline_job(config).scale == config.sampling.scale
