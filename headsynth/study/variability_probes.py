"""Factor probes: which kind of variability a network never saw takes its error where.

The focus scenario (*all*) adds several kinds of variability to the study
scenario closest to it (*angle_bg*): hair, light colour, light intensity, head
size, translation. A probe test set is that closest scenario with one kind
(a group of factors) drawn as the focus scenario draws it. It is rendered from
the test set's q and the same per-example draws (every factor takes its draws
from the example's (seed, split, index) generator, `scenarios.Scenario.sample`),
so a probe differs from the base test set in that one kind of variability
alone. Every network is evaluated on every probe: the table says which factor
of the focus scenario makes a network that never saw it worse than naive.

Layout under the study folder:

    data/probes/parameters.npz      the test set's q (split "eval" only)
    data/probes/<slug>.json         each probe's scenario
    data/probes/<slug>/             each probe's rendered examples
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from dataclasses import dataclass

import numpy as np

from headsynth import wiring
from headsynth.components.rendering.render_job import RenderJob, run_render_job
from headsynth.components.rendering.scenarios import Scenario, get_scenario
from headsynth.config import HeadsynthConfig
from headsynth.core.io_utils import write_text_atomic
from headsynth.core.progress import report as progress
from headsynth.data_schemas.features import FACTOR_NAMES
from headsynth.data_schemas.parameter_store import load_split_parameters, save_split_parameters
from headsynth.study.bootstrap import Bootstrap, mean_with_ci
from headsynth.study.common import stamp_matches, write_stamp


@dataclass(frozen=True)
class ProbeSets:
    """The rendered probes: `base` with one group of `focus`'s factors each.

    Attributes:
        base: the studied scenario the probes start from.
        focus: the scenario whose factors they add.
        dirs: group -> its examples folder.
        groups: group -> the factors in which the probe differs from `base` (`differing_groups`).
    """

    base: str
    focus: str
    dirs: dict[str, str]
    groups: dict[str, tuple[str, ...]]


# Factors that vary together as one kind of variability; a factor in no group is its own.
FACTOR_GROUPS: dict[str, tuple[str, ...]] = {
    "hair": ("scalp_hair", "facial_hair", "hair_tone"),
    "light colour": ("light_temperature_k", "light_r", "light_g", "light_b"),
    "light intensity": ("light_intensity", "ambient"),
    "light direction": ("light_azimuth_deg", "light_elevation_deg"),
    "spherical-harmonics light": ("sh_strength",),
    "head size (focal length, distance)": ("focal_mm", "distance_mm"),
    "horizontal translation": ("shift_x",),
    "vertical translation": ("shift_y",),
    "yaw": ("yaw_deg",),
    "pitch and roll": ("pitch_deg", "roll_deg"),
    "expression": ("expression_scale",),
}
BACKGROUND_GROUP = "background"


def factor_group(name: str) -> str:
    """The kind of variability factor `name` belongs to."""
    for group, names in FACTOR_GROUPS.items():
        if name in names:
            return group
    return BACKGROUND_GROUP if name == "background" or name.startswith("bg_") else name


def differing_groups(base: Scenario, focus: Scenario) -> dict[str, tuple[str, ...]]:
    """Group -> the factors of that group in which `focus` differs from `base`, in factor order."""
    groups: dict[str, list[str]] = {}
    for name in FACTOR_NAMES:
        if getattr(base, name) != getattr(focus, name):
            groups.setdefault(factor_group(name), []).append(name)
    return {group: tuple(names) for group, names in groups.items()}


def probe_base(scenarios: list[str], focus: str) -> str | None:
    """The studied scenario closest to the focus one (fewest kinds of variability apart), or None."""
    target = get_scenario(focus)
    others = [name for name in scenarios if name != focus]
    if not others:
        return None
    return min(others, key=lambda name: len(differing_groups(get_scenario(name), target)))


def probe_scenarios(base: str, focus: str) -> dict[str, Scenario]:
    """Group -> the base scenario with that group's factors drawn as the focus scenario draws them."""
    base_scenario, target = get_scenario(base), get_scenario(focus)
    return {
        group: dataclasses.replace(
            base_scenario,
            name=f"{base}+{slug(group)}",
            **{name: getattr(target, name) for name in names},
        )
        for group, names in differing_groups(base_scenario, target).items()
    }


def slug(group: str) -> str:
    """A file-name-safe form of a group's name: "head size (focal length, distance)" -> "head_size"."""
    return re.sub(r"[^a-z0-9]+", "_", group.split(" (")[0].lower()).strip("_")


def render_probes(config: HeadsynthConfig, out_dir: str, base: str, focus: str) -> ProbeSets:
    """Renders every probe's test set (the study's test q), reusing any rendered with the same inputs.

    The q file and a probe's scenario file are written only when a probe is rendered.

    Returns:
        The probes; each group's folder holds `Split-eval`.
    """
    root = os.path.join(out_dir, "data", "probes")
    parameters_path = os.path.join(root, "parameters.npz")
    q = load_split_parameters(os.path.join(out_dir, "parameters.npz"), "eval")
    model_path = os.path.join(out_dir, "face_model.npz")
    with open(model_path, "rb") as f:
        model_sha = hashlib.sha256(f.read()).hexdigest()
    dirs, parameters_written = {}, False
    for group, scenario in probe_scenarios(base, focus).items():
        name = slug(group)
        scenario_path = os.path.join(root, f"{name}.json")
        dirs[group] = os.path.join(root, name)
        job = wiring.variability_render_job(config, model_path, parameters_path, dirs[group], scenario_path)
        stamp = probe_stamp(job, scenario, q, model_sha)
        if stamp_matches(dirs[group], stamp, ["render.json"]):
            continue
        if not parameters_written:
            os.makedirs(root, exist_ok=True)
            save_split_parameters(parameters_path, {"eval": q})
            parameters_written = True
        write_text_atomic(scenario_path, json.dumps(scenario_file(scenario, base), indent=2))
        progress("study", f"rendering the probe {scenario.name!r} ({len(q)} test examples)")
        run_render_job(job, beam_args=list(config.rendering.beam_args))
        write_stamp(dirs[group], stamp)
    return ProbeSets(base, focus, dirs, differing_groups(get_scenario(base), get_scenario(focus)))


def probe_stamp(job: RenderJob, scenario: Scenario, q: np.ndarray, model_sha: str) -> dict:
    """What a probe's examples are made from: the job's settings (not its paths: a study folder moved or
    copied keeps its probes), the scenario, the q `[N, m]` and the face model file's sha256."""
    settings = dataclasses.asdict(job)
    for path in ("model_path", "parameters_path", "output_dir", "scenario", "eval_scenario"):
        settings.pop(path)
    return {
        "job": settings,
        "scenario": scenario.to_dict(),
        "q_sha256": hashlib.sha256(np.ascontiguousarray(q, np.float32).tobytes()).hexdigest(),
        "face_model_sha256": model_sha,
    }


def scenario_file(scenario: Scenario, base: str) -> dict:
    """The probe as a scenario file (`scenarios.scenario_from_dict`): the base and what differs."""
    base_scenario = get_scenario(base)
    factors = {
        name: getattr(scenario, name).to_dict()
        for name in FACTOR_NAMES
        if getattr(scenario, name) != getattr(base_scenario, name)
    }
    return {"name": scenario.name, "base": base, "factors": factors}


def probe_summary(
    probes: ProbeSets,
    errors: dict[str, dict[str, np.ndarray]],
    naive: np.ndarray,
    base_errors: dict[str, np.ndarray],
    resamples: int,
) -> dict:
    """The probes' errors with 95% CIs over seeds and images.

    Args:
        probes: the probes (their base, focus and groups).
        errors: network -> group -> `[S, N]` errors on that probe.
        naive: `[1, N]` errors of q = 0 (the same q on every probe).
        base_errors: network -> `[S, N]` errors on the base scenario's own test set.
        resamples: bootstrap resamples.

    Returns:
        {"base", "focus", "groups": [{"group", "factors", "errors": {net: summary}}], "naive": summary,
        "on_base": {net: summary}}.
    """
    bootstrap = Bootstrap.of(naive.shape[-1], resamples)
    groups = probes.groups
    return {
        "base": probes.base,
        "focus": probes.focus,
        "groups": [
            {
                "group": group,
                "factors": list(groups[group]),
                "errors": {net: mean_with_ci(cells[group], bootstrap) for net, cells in errors.items()},
            }
            for group in groups
        ],
        "naive": mean_with_ci(naive, bootstrap),
        "on_base": {net: mean_with_ci(e, bootstrap) for net, e in base_errors.items()},
    }
