import dataclasses
import re

import pytest

from headsynth.config import PRESETS, apply_overrides, get_preset
from headsynth.core.errors import ConfigError
from headsynth.wiring import check_names


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_are_valid_and_named(name):
    config = check_names(apply_overrides(get_preset(name), []))
    assert config.preset == name
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.sampling.num_train = 1  # type: ignore[misc]


def test_presets_grow_in_scale():
    ci, quick, paper = get_preset("ci"), get_preset("quickstart"), get_preset("paper")
    assert ci.sampling.num_train < quick.sampling.num_train < paper.sampling.num_train
    assert paper.rendering.image_size == 224
    assert paper.training.optimizer == "sgd"
    assert (paper.training.base_learning_rate, paper.training.lr_gamma, paper.training.lr_power) == (
        1e-4,
        0.1,
        0.75,
    )


def test_overrides_parse_each_type():
    config = apply_overrides(
        get_preset("ci"),
        [
            "training.train_steps=7",
            "training.base_learning_rate=0.5",
            "pipeline.enable_cache=false",
            "rendering.scenario=none",
            "rendering.beam_args=--direct_num_workers=2,--direct_running_mode=multi_processing",
        ],
    )
    assert config.training.train_steps == 7
    assert config.training.base_learning_rate == 0.5
    assert config.pipeline.enable_cache is False
    assert config.rendering.scenario == "none"
    assert config.rendering.beam_args == ("--direct_num_workers=2", "--direct_running_mode=multi_processing")
    assert get_preset("ci").training.train_steps != 7  # presets are not mutated


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("training.nonsense=1", "Unknown --set key 'training.nonsense'"),
        ("nosection.x=1", "Unknown --set key 'nosection.x'"),
        ("training.train_steps=ten", "expected int"),
        ("pipeline.enable_cache=maybe", "expected true or false"),
        ("training.train_steps", "not of the form"),
        ("training.train_steps=0", "must be positive"),
        ("rendering.scenario=sideways", "Unknown rendering.scenario 'sideways'"),
        ("sampling.sampler=magic", "Unknown sampling.sampler"),
        ("variability.seeds=0", "variability.seeds must be >= 1. Received: 0."),
        ("variability.num_train=-5", "variability.num_train must be >= 0"),
        ("variability.backbone=vgg99", "Unknown variability.backbone 'vgg99'"),
        ("variability.head=resnet", "variability.head must be linear, mlp or empty (training.head)"),
        ("variability.base_learning_rate=-1", "variability.base_learning_rate must be >= 0"),
        ("training.input_mean=pixel", "training.input_mean must be image or channel"),
        (
            "sampling.sampler=naive_normal:-1",
            "naive_normal takes one argument std > 0. Received: 'naive_normal:-1'.",
        ),
        (
            "generative.study_samplers=naive_uniform:3.5,composite:0.8,2,-1",
            "composite takes up to three arguments normal_fraction in [0, 1], normal_std > 0, uniform_limit > 0. "
            "Received: 'composite:0.8,2,-1'.",
        ),
        ("training.output_scale=-1", "training.output_scale must be >= 0 (0: derived from sampling.sampler)"),
        ("sampling.renders_per_identity=0", "sampling.renders_per_identity must be >= 1. Received: 0."),
        ("rendering.framing=tight", "rendering.framing must be 'full' or 'face'. Received: 'tight'."),
        (
            "rendering.render_size=20",
            "rendering.render_size must be 0 (automatic) or at least rendering.image_size",
        ),
        (
            "generative.study_image_size=8",
            "generative.study_image_size must be 0 (rendering.image_size) or at least 16",
        ),
    ],
)
def test_bad_overrides_name_the_problem(override, fragment):
    # Values are checked by apply_overrides, registered names by their registries (check_names).
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        check_names(apply_overrides(get_preset("ci"), [override]))


def test_sampler_specs_in_a_list_keep_their_own_commas():
    config = apply_overrides(
        get_preset("ci"),
        ["generative.study_samplers=naive_uniform:3.5,composite:0.8,2,2.6,meta_normal:0.5,2,cvgan2;gmm:8,-1"],
    )
    assert config.generative.study_samplers == (
        "naive_uniform:3.5",
        "composite:0.8,2,2.6",
        "meta_normal:0.5,2",
        "cvgan2",
        "gmm:8,-1",
    )
    with pytest.raises(ConfigError, match=re.escape("gmm takes one argument components (an integer >= 0)")):
        check_names(config)


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ConfigError, match="Unknown preset 'huge'.*ci, paper, quickstart"):
        get_preset("huge")
