import json

import numpy as np
import pytest

from headsynth.components.rendering.scenarios import (
    SCENARIOS,
    Factor,
    get_scenario,
    sample_lighting_and_expression,
    scenario_from_dict,
)
from headsynth.core.errors import ConfigError
from headsynth.data_schemas.features import FACTOR_NAMES

BACKGROUND_AUGMENTATION = {
    "bg_flip",
    "bg_brightness",
    "bg_contrast",
    "bg_gain_r",
    "bg_gain_g",
    "bg_gain_b",
    "bg_procedural",
}


def test_paper_scenarios_differ_in_one_kind_of_variability_at_a_time():
    none, angle, angle_bg, everything = (SCENARIOS[n] for n in ("none", "angle", "angle_bg", "all"))
    assert none.yaw_deg == Factor("constant", 45.0)
    assert angle.yaw_deg.bounds() == (-90.0, 90.0)
    assert [n for n in FACTOR_NAMES if getattr(none, n) != getattr(angle, n)] == ["yaw_deg"]
    changed_bg = {n for n in FACTOR_NAMES if getattr(angle, n) != getattr(angle_bg, n)}
    assert changed_bg == {"background"} | BACKGROUND_AUGMENTATION
    changed = {n for n in FACTOR_NAMES if getattr(angle_bg, n) != getattr(everything, n)}
    assert changed == {
        "scalp_hair",
        "facial_hair",
        "focal_mm",
        "distance_mm",
        "shift_x",
        "shift_y",
        "light_intensity",
        "light_temperature_k",
        "ambient",
    }


def test_all_varies_what_the_paper_lists_and_all_extra_adds_the_rest():
    everything, extra = SCENARIOS["all"], SCENARIOS["all_extra"]
    fixed = (
        *("pitch_deg", "roll_deg", "expression_scale", "sh_strength", "light_r", "light_g", "light_b"),
        *("light_azimuth_deg", "light_elevation_deg"),
    )
    assert all(getattr(everything, n).kind == "constant" for n in fixed)
    assert everything.light_temperature_k.bounds() == (3000.0, 9000.0)
    samples = [everything.sample(0, "train", i) for i in range(50)]
    for name in ("pitch_deg", "roll_deg", "expression_scale", "sh_strength"):
        assert {s[name] for s in samples} == {0.0}, name
    assert all(s["light_r"] == s["light_g"] == s["light_b"] == 1.0 for s in samples)
    assert (
        min(s["light_temperature_k"] for s in samples) < 4500 < max(s["light_temperature_k"] for s in samples)
    )
    changed = {n for n in FACTOR_NAMES if getattr(everything, n) != getattr(extra, n)}
    assert changed == set(fixed) | {"light_temperature_k"}
    assert extra.pitch_deg.bounds() == (-15.0, 15.0) and extra.roll_deg.bounds() == (-10.0, 10.0)
    assert extra.expression_scale.bounds() == (0.0, 1.0) and extra.sh_strength.bounds() == (0.0, 0.5)
    extra_samples = [extra.sample(0, "train", i) for i in range(50)]
    for name in ("pitch_deg", "roll_deg", "expression_scale", "sh_strength"):
        assert np.std([s[name] for s in extra_samples]) > 0, name


def test_scenarios_with_photographs_opt_into_richer_backgrounds():
    for name in ("none", "angle"):
        scenario = SCENARIOS[name]
        assert not scenario.uses_photographs()
        assert all(getattr(scenario, n).kind == "constant" for n in BACKGROUND_AUGMENTATION)
        assert scenario.light_temperature_k == Factor("constant", 6500.0)
    for name in ("angle_bg", "all", "all_extra"):
        samples = [SCENARIOS[name].sample(4, "train", i) for i in range(400)]
        flips, procedural = (np.mean([s[n] for s in samples]) for n in ("bg_flip", "bg_procedural"))
        assert abs(flips - 0.5) < 0.1 and abs(procedural - 0.3) < 0.08
        assert np.std([s["bg_gain_r"] for s in samples]) > 0.05
        assert len({s["bg_texture_seed"] for s in samples}) == len(samples)


def test_factors_depend_only_on_seed_split_and_index():
    scenario = SCENARIOS["all"]
    assert scenario.sample(1, "train", 7) == scenario.sample(1, "train", 7)
    assert scenario.sample(1, "train", 7) != scenario.sample(1, "train", 8)
    assert scenario.sample(1, "train", 7) != scenario.sample(1, "eval", 7)
    assert scenario.sample(1, "train", 7) != scenario.sample(2, "train", 7)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_sampled_factors_stay_in_their_ranges(name):
    scenario = SCENARIOS[name]
    for index in range(200):
        factors = scenario.sample(0, "train", index)
        for factor_name, value in factors.items():
            low, high = getattr(scenario, factor_name).bounds()
            assert low <= value <= high, (factor_name, value)


def test_mixture_factor_draws_from_its_components():
    factor = Factor.from_dict({"kind": "mixture", "components": [[3, [-90, -60]], [1, [60, 90]]]})
    rng = np.random.default_rng(0)
    values = np.array([factor.sample(rng) for _ in range(4000)])
    assert np.all((np.abs(values) >= 60) & (np.abs(values) <= 90))
    assert abs((values < 0).mean() - 0.75) < 0.03
    assert factor.bounds() == (-90.0, 90.0)


def test_user_defined_scenario_from_json(tmp_path):
    path = tmp_path / "profile.json"
    path.write_text(
        json.dumps({"name": "profile", "base": "angle_bg", "factors": {"yaw_deg": [60, 90], "pitch_deg": 5}})
    )
    scenario = get_scenario(str(path))
    assert scenario.name == "profile"
    assert scenario.yaw_deg.bounds() == (60.0, 90.0) and scenario.pitch_deg.bounds() == (5.0, 5.0)
    assert scenario.background == SCENARIOS["angle_bg"].background
    assert scenario_from_dict(scenario.to_dict()) == scenario


@pytest.mark.parametrize(
    "values, fragment",
    [
        ({"factors": {"wobble": 1}}, "Unknown scene factors"),
        ({"base": "sideways"}, "Unknown scenario 'sideways'"),
        ({"factors": {"yaw_deg": [10, -10]}}, "needs a <= b"),
        ({"factors": {"yaw_deg": {"kind": "cauchy"}}}, "Unknown factor kind"),
        ({"factors": {"yaw_deg": "left"}}, "Cannot read a scene factor"),
        ({"colour": 1}, "Unknown scenario keys"),
        ({"factors": {"light_temperature_k": 0}}, "light_temperature_k must stay above 0 kelvin"),
        (
            {"factors": {"light_temperature_k": {"kind": "normal", "a": 6500, "b": 1000}}},
            "light_temperature_k must stay above 0 kelvin",
        ),
    ],
)
def test_bad_scenarios_name_the_problem(values, fragment):
    with pytest.raises(ConfigError, match=fragment):
        scenario_from_dict(values)


def test_missing_or_broken_scenario_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        get_scenario(str(tmp_path / "nope.json"))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        get_scenario(str(broken))


def test_lighting_and_expression_scale_with_their_factors():
    factors = dict(SCENARIOS["all"].sample(0, "train", 0), sh_strength=0.0, expression_scale=0.0)
    sh, expression = sample_lighting_and_expression(factors, 0, "train", 0, num_expression=5)
    assert not sh.any() and not expression.any() and expression.shape == (5,)
    factors.update(sh_strength=0.5, expression_scale=1.0)
    sh, expression = sample_lighting_and_expression(factors, 0, "train", 0, num_expression=5)
    assert sh.shape == (9, 3) and np.all(sh[0] > 0) and expression.std() > 0


def test_the_readme_scenario_example_loads():
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    block = re.search(r"```json\n(.*?)```", readme, re.S).group(1)
    scenario = scenario_from_dict(json.loads(block))
    assert scenario.name == "profile" and scenario.yaw_deg.kind == "mixture"
    assert all(abs(scenario.sample(0, "train", i)["yaw_deg"]) >= 60 for i in range(20))
