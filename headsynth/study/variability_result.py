"""What the variability study produced: the matrix, its text table, study.json and TensorBoard events."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from headsynth.components.diversity.tables import format_table
from headsynth.config import HeadsynthConfig
from headsynth.core.io_utils import write_text_atomic
from headsynth.report.html import format_ci
from headsynth.report.tensorboard import write_summaries
from headsynth.report.values import json_ready


@dataclass
class StudyResult:
    """What a study produced (the same as study.json, plus paths)."""

    out_dir: str
    scenarios: list[str]
    matrix: dict[str, dict[str, dict]]
    naive: dict[str, dict]
    identity: dict | None
    seconds: dict[str, float]
    report: str
    figures: dict[str, str] = field(default_factory=dict)
    findings: list[dict] = field(default_factory=list)
    seeds: int = 1
    probes: dict | None = None

    def cells(self, net: str) -> dict[str, dict]:
        """Test scenario -> error summary of network `net` (or of "naive")."""
        return self.naive if net == "naive" else self.matrix[net]

    def table(self) -> str:
        """The matrix of mean errors with 95% CIs as aligned text."""
        rows = [["train \\ test", *self.scenarios]]
        for name in [*self.scenarios, "naive"]:
            rows.append([name, *(format_ci(self.cells(name)[test]) for test in self.scenarios)])
        return format_table(rows[0], rows[1:])

    def probe_rows(self) -> list[list[str]]:
        """The factor probes as rows (header first): the base's own test set, then the base with each group
        of the focus scenario's factors; a column per network, then naive."""
        if not self.probes:
            return []
        probes = self.probes
        naive = format_ci(probes["naive"])
        base = probes["base"]
        rows = [["test \\ trained on", *self.scenarios, "naive"]]
        rows.append([base, *(format_ci(probes["on_base"][n]) for n in self.scenarios), naive])
        for group in probes["groups"]:
            cells = [format_ci(group["errors"][n]) for n in self.scenarios]
            rows.append([f"{base} + {group['group']}", *cells, naive])
        return rows

    def probe_table(self) -> str:
        """`probe_rows` as aligned text ("" without probes)."""
        rows = self.probe_rows()
        return format_table(rows[0], rows[1:]) if rows else ""


def study_scenarios(config: HeadsynthConfig) -> tuple[list[str], str]:
    """(the study's scenarios, its focus scenario: the configured one if studied, else the last)."""
    scenarios = list(config.evaluation.study_scenarios)
    focus = config.evaluation.focus_scenario
    return scenarios, focus if focus in scenarios else scenarios[-1]


def write_study_json(result: StudyResult, config: HeadsynthConfig, training: dict) -> None:
    """`study.json`: the matrix with CIs over seeds and images, the findings, the identity table, the training
    results (with learning curves), timings and paths."""
    payload = {
        "preset": config.preset,
        "scenarios": result.scenarios,
        "seeds": result.seeds,
        "matrix": result.matrix,
        "findings": result.findings,
        "factor_probes": result.probes,
        "naive": result.naive,
        "identity": result.identity,
        "training": training,
        "seconds": result.seconds,
        "figures": {name: os.path.join(result.out_dir, "evaluation", name) for name in result.figures},
        "report": os.path.join(result.out_dir, "report.html"),
    }
    write_text_atomic(os.path.join(result.out_dir, "study.json"), json.dumps(json_ready(payload), indent=2))


def write_study_tensorboard(result: StudyResult) -> None:
    """The matrix as scalars (one run per network) and text, and the figures as images."""
    root = os.path.join(result.out_dir, "tensorboard")
    for net in [*result.scenarios, "naive"]:
        scalars = {
            f"study/mean_error_on_{test}": result.cells(net)[test]["mean"] for test in result.scenarios
        }
        if result.identity:
            for row in result.identity["table"]:
                if row["network"] == net:
                    scalars["study/identity_score"] = row["score"]["mean"]
                    scalars["study/identity_corrected_score"] = row["corrected_score"]["mean"]
        write_summaries(os.path.join(root, f"net_{net}"), scalars)
    images = {name: os.path.join(result.out_dir, "evaluation", name) for name in result.figures}
    write_summaries(
        os.path.join(root, "figures"),
        images=images,
        texts={"study/mean_error_matrix": markdown_matrix(result)},
    )


def markdown_matrix(result: StudyResult) -> str:
    """The matrix (and the naive row) as a Markdown table, for TensorBoard's text dashboard."""
    header = "| train \\ test | " + " | ".join(result.scenarios) + " |\n"
    header += "|---" * (len(result.scenarios) + 1) + "|\n"
    body = "".join(
        f"| {net} | " + " | ".join(format_ci(result.cells(net)[t]) for t in result.scenarios) + " |\n"
        for net in [*result.scenarios, "naive"]
    )
    return header + body
