"""headsynth.wiring: every registered name is checked by its registry, and the render job round-trips."""

import dataclasses

import pytest

from headsynth import wiring
from headsynth.components.rendering.component import job_from_parameters
from headsynth.components.training.settings import TrainSettings
from headsynth.config import apply_overrides, get_preset
from headsynth.core.errors import ConfigError


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("rendering.scenario=sideways", "Unknown rendering.scenario 'sideways'"),
        ("rendering.eval_scenario=upside", "Unknown rendering.eval_scenario 'upside'"),
        ("evaluation.study_scenarios=none,tilted", "Unknown evaluation.study_scenarios 'tilted'"),
        ("evaluation.focus_scenario=nope.json", "Unknown evaluation.focus_scenario 'nope.json'"),
        ("sampling.sampler=magic", "Unknown sampling.sampler 'magic'"),
        ("sampling.sampler=naive_uniform:-4", "naive_uniform takes one argument limit > 0"),
        ("generative.study_samplers=naive_normal,magic:1", "Unknown generative.study_samplers 'magic'"),
        ("generative.study_samplers=meta_normal:2,1", "meta_normal takes up to two arguments"),
        ("training.backbone=resnet51", "Unknown training.backbone 'resnet51'"),
        ("generative.study_backbone=vgg", "Unknown generative.study_backbone 'vgg'"),
        ("evaluation.identity_backend=eigenfaces", "Unknown evaluation.identity_backend 'eigenfaces'"),
        ("generative.gmm_selection=best", "GMM selection"),
    ],
)
def test_check_names_asks_each_registry(override, fragment):
    config = apply_overrides(get_preset("ci"), [override])  # values of the right type: accepted here
    with pytest.raises(ConfigError, match=fragment):
        wiring.check_names(config)


def test_render_parameters_give_back_the_render_job():
    config = apply_overrides(get_preset("ci"), ["rendering.store_depth=true", "rendering.eval_scenario=all"])
    rebuilt = job_from_parameters("m", "p", "out", **wiring.render_parameters(config))
    direct = wiring.render_job(config, rebuilt.model_path, rebuilt.parameters_path, "out")
    assert rebuilt == direct
    assert (direct.store_depth, direct.eval_scenario, direct.image_size) == (True, "all", 32)


def test_train_settings_travel_through_the_trainers_custom_config():
    config = apply_overrides(get_preset("ci"), ["sampling.scale=1.2", "training.train_steps=7"])
    settings = wiring.train_settings(config, backbone="small_cnn")
    again = TrainSettings.from_dict({**settings.to_dict(), "backup_root": "/tmp/x"})
    assert again == settings
    assert (again.scale, again.image_size, again.training.train_steps) == (1.2, 32, 7)
    assert again.training.backbone == "small_cnn" and config.training.backbone == "tiny_cnn"
    assert dataclasses.replace(config.training, backbone="small_cnn") == again.training
    assert again.output_scale == 1.0  # the linear head
    thesis = wiring.train_settings(
        apply_overrides(
            config, ["training.head=mlp", "sampling.sampler=naive_normal:1.5", "sampling.scale=1"]
        )
    )
    assert thesis.output_scale == 4.5 and TrainSettings.from_dict(thesis.to_dict()) == thesis
