"""What the samplers study produced: its result, Table 6.6 and study.json."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from headsynth.components.diversity.tables import format_table
from headsynth.config import HeadsynthConfig
from headsynth.core.io_utils import write_text_atomic
from headsynth.report.html import format_ci
from headsynth.study.samplers import StudyPlan

UNITS = "q in units of sigma (p = sigma * q); samplers defined at another scale enter as scale * q"


@dataclass
class SamplerStudyResult:
    """What the study produced (the same as study.json, plus the live diversity summaries)."""

    out_dir: str
    plan: StudyPlan
    evaluation: dict
    diversity: dict
    generative: dict
    training: dict
    seconds: dict[str, float]
    report: str = ""

    def table(self) -> str:
        """Table 6.6 as text: error and identity score with 95% CIs and ranks."""
        return format_table(*result_rows(self))


def result_rows(result: SamplerStudyResult) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the Table 6.6-like table."""
    identity = {row["network"]: row for row in (result.evaluation["identity"] or {}).get("table", [])}
    header = ["sampler", "error on q [95% CI]", "error rank"]
    if identity:
        header += ["identity [95% CI]", "rank", "corrected [95% CI]", "corr. rank"]
    header += ["mean |q| pred.", "mean |q| train"]
    rows = []
    for name in [*result.plan.entries, "naive"]:
        error = result.evaluation["errors"][name]
        studied = name in result.plan.entries
        label = result.plan.entries[name].label if studied else "naive (q = 0)"
        row = [label, format_ci(error, 2), f"{error['rank']:.2f}"]
        if identity:
            scores = identity[name]
            row += [
                format_ci(scores["score"]),
                f"{scores['rank']:.2f}",
                format_ci(scores["corrected_score"]),
                f"{scores['corrected_rank']:.2f}",
            ]
        train_abs = result.diversity["summaries"][label].mean_abs if studied else 0.0
        row += [f"{error['prediction_mean_abs']:.2f}", f"{train_abs:.2f}"]
        rows.append(row)
    return header, rows


def write_study_json(result: SamplerStudyResult, config: HeadsynthConfig) -> None:
    """`study.json`: the plan, every table, the generative fits, training results, timings and paths."""
    plan = result.plan
    payload = {
        "preset": config.preset,
        "units": UNITS,
        "scenario": plan.scenario,
        "num_train": plan.num_train,
        "train_steps": plan.train_steps,
        "backbone": plan.backbone,
        "test_identities": plan.test_identities,
        "renders_per_identity": plan.renders_per_identity,
        "samplers": {
            name: {"label": e.label, "sampler": e.sampler, "options": e.options, "scale": e.scale}
            for name, e in plan.entries.items()
        },
        "errors": result.evaluation["errors"],
        "identity": result.evaluation["identity"],
        "diversity": {name: s.to_dict() for name, s in result.diversity["summaries"].items()},
        "gmm_candidates": result.generative["gmm"]["candidates"],
        "gmm_selected": result.generative["gmm"]["selected"],
        "cgan": result.generative["cgan"],
        "training": result.training,
        "seconds": result.seconds,
        "report": os.path.join(result.out_dir, "report.html"),
    }
    write_text_atomic(
        os.path.join(result.out_dir, "study.json"), json.dumps(payload, indent=2, default=float)
    )
