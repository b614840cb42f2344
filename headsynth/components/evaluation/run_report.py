"""The HTML report of one pipeline run's evaluation (`report.html` in the Evaluation artifact)."""

from __future__ import annotations

import os

import tensorflow as tf

from headsynth.components.evaluation.real_photos import REPORT_FILE as REAL_PHOTOS_REPORT
from headsynth.components.evaluation.real_photos import STEP_FOLDER, summary_line
from headsynth.components.evaluation.real_photos_report import add_face_table
from headsynth.core.io_utils import absolute
from headsynth.data_schemas.render_summary import read_render_summary
from headsynth.report.html import HtmlReport, format_ci
from headsynth.report.values import fmt


def identity_rows(table: list[dict]) -> tuple[list[str], list[list]]:
    """Header and rows of an identity table (the thesis's Table 6.6 columns)."""
    header = [
        "network",
        "score [95% CI]",
        "rank",
        "corrected score [95% CI]",
        "corrected rank",
        "mean |p|/sigma",
        "scored",
    ]
    rows = [
        [
            row["network"],
            format_ci(row["score"]),
            fmt(row["rank"], 2),
            format_ci(row["corrected_score"]),
            fmt(row["corrected_rank"], 2),
            fmt(row["mean_sigma"], 2),
            f"{row['scored']} of {row['images']}",
        ]
        for row in table
    ]
    return header, rows


def add_identity_section(report: HtmlReport, identity: dict, figure_dir: str) -> None:
    """The identity score table, its notes and figures."""
    report.heading("Identity score")
    reference = (
        "a frontal rendering of the true parameters"
        if identity["reference"] == "truth"
        else "the input image"
    )
    report.paragraph(
        f"Face-recognition similarity ({identity['backend']}, cosine of embeddings; faces found by "
        f"mediapipe) between {reference} and a frontal rendering of each prediction, on "
        f"{len(identity['examples'])} test examples. Corrected score: the thesis's Eq. 6.2 with "
        f"n = {identity['corrected_score_n']:g}, penalising predictions whose mean |p|/sigma exceeds 1. "
        "Ranks: per example, 1 = best among the compared networks, averaged."
    )
    header, rows = identity_rows(identity["table"])
    report.table(header, rows)
    report.paragraph(
        f"Faces detected: {identity['references_with_face']} of {len(identity['examples'])} references; "
        + ", ".join(f"{k}: {v}" for k, v in identity["renders_with_face"].items())
        + " renderings."
    )
    for name, caption in identity.get("figures", {}).items():
        report.image(os.path.join(figure_dir, name), caption)


def add_real_photos_section(report: HtmlReport, real_photos: dict) -> None:
    """The real-photo evaluation's counts and per-face scores, with a link to its own report."""
    report.heading("Real photos")
    source = (
        "the photos that ship in the installed packages"
        if real_photos["source"] == "packaged"
        else (f"the photos in {real_photos['source']}")
    )
    report.paragraph(
        f"Every face in {source} reconstructed, rendered frontally and compared by dlib with its own photo, "
        "the other photos and the mean face (q = 0): " + summary_line(real_photos["summary"]) + "."
    )
    add_face_table(report, real_photos)
    for note in real_photos["notes"]:
        report.paragraph(note, "note")
    report.link(
        f"{STEP_FOLDER}/{REAL_PHOTOS_REPORT}",
        "The real-photo report: photo | reconstruction | overlay per face",
    )


def write_run_report(
    metrics: dict, figures: dict[str, str], output_dir: str, examples_dir: str, title: str = ""
) -> str:
    """Writes `report.html` (tables and every figure, self-contained); returns its path."""
    report = HtmlReport(title or f"headsynth evaluation ({metrics['scenario']}, split {metrics['split']})")
    report.heading("Error on q")
    report.paragraph(
        f"Squared euclidean error between predicted and true unscaled parameters q "
        f"({metrics['num_parameters']} parameters), on {metrics['net']['count']} held-out examples of "
        f"scenario {metrics['scenario']}. The naive predictor always answers q = 0."
    )
    rows = [
        [name, format_ci(metrics[name]), f"{metrics[name]['median']:.3f}", metrics[name]["count"]]
        for name in ("net", "naive")
    ]
    report.table(["predictor", "mean error [95% CI]", "median", "examples"], rows)
    report.paragraph(
        f"net / naive = {metrics['net_over_naive']:.3f}; "
        + (
            "the network beats the naive predictor (blessed)."
            if metrics["beats_naive"]
            else "the network does NOT beat the naive predictor (not blessed)."
        )
    )
    for name in ("error_violin.png", "error_vs_yaw.png", "saliency.png"):
        if name in figures:
            report.image(os.path.join(output_dir, name), figures[name])
    for note in metrics.get("notes", []):
        report.paragraph(note, "note")
    if "identity" in metrics:
        add_identity_section(report, metrics["identity"], output_dir)
    if metrics.get("real_photos"):
        add_real_photos_section(report, metrics["real_photos"])
    sheets = sorted(tf.io.gfile.glob(os.path.join(examples_dir, "contact_sheet_*.png")))
    render = read_render_summary(examples_dir)
    if sheets or render:
        report.heading("Training data")
        if render:
            report.paragraph(
                "Examples rendered: " + ", ".join(f"{k} {v}" for k, v in render.get("counts", {}).items())
            )
        for sheet in sheets:
            scenario = os.path.basename(sheet)[len("contact_sheet_") : -len(".png")]
            report.image(sheet, f"The first examples of scenario {scenario}.")
    report.heading("Files")
    names = (n.rstrip("/") for n in tf.io.gfile.listdir(output_dir))  # object stores mark folders with "/"
    report.preformatted(
        "\n".join(sorted(n for n in names if not n.startswith(".")))
        + f"\n\nEvaluation folder: {absolute(output_dir)}"
    )
    return report.write(os.path.join(output_dir, "report.html"))
