"""Factor probes: the base scenario with one kind of the focus scenario's variability at a time."""

import pytest

from headsynth.components.rendering.scenarios import SCENARIOS, scenario_from_dict
from headsynth.data_schemas.features import FACTOR_NAMES
from headsynth.study.variability_probes import (
    differing_groups,
    probe_base,
    probe_scenarios,
    scenario_file,
    slug,
)

PAPER = ["none", "angle", "angle_bg", "all"]


def test_the_base_is_the_studied_scenario_closest_to_the_focus():
    assert probe_base(PAPER, "all") == "angle_bg"
    assert probe_base(["none", "all"], "all") == "none"
    assert probe_base(["all"], "all") is None
    assert probe_base(PAPER, "angle") == "none"


def test_angle_bg_to_all_is_hair_light_head_size_and_translation():
    groups = differing_groups(SCENARIOS["angle_bg"], SCENARIOS["all"])
    assert groups == {
        "head size (focal length, distance)": ("focal_mm", "distance_mm"),
        "horizontal translation": ("shift_x",),
        "vertical translation": ("shift_y",),
        "light intensity": ("light_intensity", "ambient"),
        "hair": ("scalp_hair", "facial_hair"),
        "light colour": ("light_temperature_k",),
    }


@pytest.mark.parametrize("base,focus", [("angle_bg", "all"), ("none", "all"), ("all", "all_extra")])
def test_a_probe_differs_from_its_base_in_its_group_alone_draw_for_draw(base, focus):
    probes = probe_scenarios(base, focus)
    groups = differing_groups(SCENARIOS[base], SCENARIOS[focus])
    assert set(probes) == set(groups)
    for group, probe in probes.items():
        for index in range(20):
            ours, theirs, target = (
                s.sample(3, "eval", index) for s in (probe, SCENARIOS[base], SCENARIOS[focus])
            )
            for name in FACTOR_NAMES:
                expected = target[name] if name in groups[group] else theirs[name]
                assert ours[name] == expected, (group, name)
        assert any(probe.sample(3, "eval", i) != SCENARIOS[base].sample(3, "eval", i) for i in range(20)), (
            group
        )


def test_a_probe_file_reads_back_as_the_probe():
    for probe in probe_scenarios("angle_bg", "all").values():
        assert scenario_from_dict(scenario_file(probe, "angle_bg")).to_dict() == probe.to_dict()
    assert slug("head size (focal length, distance)") == "head_size"
    assert slug("light colour") == "light_colour"
