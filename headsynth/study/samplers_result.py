"""What the samplers study produced: its result, Table 6.6 and study.json."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from headsynth.components.diversity.tables import format_table
from headsynth.config import HeadsynthConfig
from headsynth.core.io_utils import write_text_atomic
from headsynth.report.html import format_ci
from headsynth.report.values import fmt
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

    def photo_table(self) -> str:
        """The networks on the packaged real photos as text ("" when not evaluated)."""
        photos = self.evaluation.get("real_photos")
        return format_table(*photo_rows(self)) if photos else ""

    def findings(self) -> str:
        """The findings as text, one per line."""
        return "\n".join(finding_lines(self.evaluation.get("findings", [])))


def identity_header(identity: dict) -> list[str]:
    """The identity columns of Table 6.6: raw (cosine, dlib's similarity), calibrated, corrected, ranks."""
    dlib = identity.get("measure") == "dlib"
    return [
        *(["cosine [95% CI]", "dlib 1-L2/2 [95% CI]"] if dlib else ["cosine [95% CI]"]),
        "calibrated [95% CI]",
        "corrected [95% CI]",
        "corr. calibrated [95% CI]",
        "rank",
        "corr. rank",
    ]


def identity_cells(identity: dict, scores: dict) -> list[str]:
    """One network's identity cells (the columns of `identity_header`)."""
    raw = [format_ci(scores["cosine"])]
    if identity.get("measure") == "dlib":
        raw.append(format_ci(scores["score"]))
    return [
        *raw,
        format_ci(scores["calibrated"]),
        format_ci(scores["corrected_score"]),
        format_ci(scores["corrected_calibrated"]),
        fmt(scores["rank"], 2),
        fmt(scores["corrected_rank"], 2),
    ]


def result_rows(result: SamplerStudyResult) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the Table 6.6-like table (means [95% CI] over images and seeds; ranks per seed, averaged)."""
    identity = result.evaluation["identity"] or {}
    scores = {row["network"]: row for row in identity.get("table", [])}
    header = ["sampler", "error on q [95% CI]", "error rank"]
    header += identity_header(identity) if scores else []
    header += ["mean |q| pred.", "mean |q| train"]
    rows = []
    for name in [*result.plan.entries, "naive"]:
        error = result.evaluation["errors"][name]
        studied = name in result.plan.entries
        label = result.plan.entries[name].label if studied else "naive (q = 0)"
        row = [label, format_ci(error, 2), f"{error['rank']:.2f}"]
        row += identity_cells(identity, scores[name]) if scores else []
        train_abs = result.diversity["summaries"][label].mean_abs if studied else 0.0
        row += [f"{error['prediction_mean_abs']:.2f}", f"{train_abs:.2f}"]
        rows.append(row)
    return header, rows


PHOTO_HEADER = ["sampler", "own photo cosine [95% CI]", "own > mean face", "rank-1", "faces x seeds"]


def photo_rows(result: SamplerStudyResult) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the real-photo table: each network's seeds against the packaged photos."""
    rows = []
    for row in result.evaluation["real_photos"]["table"]:
        name = row["network"]
        label = result.plan.entries[name].label if name in result.plan.entries else "naive (mean face)"
        total = row["faces"] * row["seeds"]
        counts = (
            [
                f"{row['above_mean_face_count']}/{total}",
                f"{row['rank1_count']}/{total} (chance 1/{row['faces']})",
            ]
            if row["above_mean_face"] is not None
            else ["-", "-"]
        )
        rows.append([label, format_ci(row["own"], 3), *counts, f"{row['faces']} x {row['seeds']}"])
    return PHOTO_HEADER, rows


def finding_lines(findings: list[dict]) -> list[str]:
    """One line per finding: the claim, whether it holds, and the numbers with the CI of each difference."""
    lines = []
    for f in findings:
        if not f.get("tested", True):
            lines.append(f"{f['claim']}: not tested ({f['note'].removeprefix('not tested: ')}).")
            continue
        verdict = "holds" if f["holds"] else "does not hold"
        numbers = "; ".join(comparison_text(c) for c in f["comparisons"][:3])
        more = f" (+{len(f['comparisons']) - 3} more in study.json)" if len(f["comparisons"]) > 3 else ""
        place = f" Position {f['values']['position']} of {f['values']['of']}." if "values" in f else ""
        lines.append(f"{f['claim']}: {verdict}.{place} {numbers}{more}. ({f.get('thesis', '')})")
    return lines


def comparison_text(c: dict) -> str:
    """'a - b = d [low, high]' of one comparison."""
    low, high = c["ci95"]
    return f"{c['a']} - {c['b']} = {c['difference']:.4g} [{low:.4g}, {high:.4g}]"


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
        "seeds": plan.seeds,
        "bootstrap": plan.bootstrap,
        "ci": "95% two-way bootstrap over test images and seeds; ranks per seed, averaged over seeds",
        "samplers": {
            name: {"label": e.label, "sampler": e.sampler, "options": e.options, "scale": e.scale}
            for name, e in plan.entries.items()
        },
        "errors": result.evaluation["errors"],
        "identity": result.evaluation["identity"],
        "real_photos": result.evaluation.get("real_photos"),
        "findings": result.evaluation["findings"],
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
