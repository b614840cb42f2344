"""The variability study's self-contained HTML report: the train x test matrix, the figures, the identity table."""

from __future__ import annotations

import os

import numpy as np

from headsynth import wiring
from headsynth.components.evaluation.run_report import add_identity_section
from headsynth.config import HeadsynthConfig
from headsynth.report.html import HtmlReport, format_ci
from headsynth.study.variability_result import StudyResult

FILES = (
    "  study.json                 the matrix with CIs, the findings, identity table, learning curves, timings\n"
    "  evaluation/errors.npz      per-seed, per-example errors (<net>__on__<test> [S, N], naive [1, N], yaw__<test>)\n"
    "  evaluation/probe_errors.npz  the same on the factor probes (<net>__on__<factor> [S, N])\n"
    "  nets/<scenario>/seed<k>/serving/  the SavedModels (headsynth predict PHOTO --model nets/<scenario>/seed0)\n"
    "  nets/<scenario>/seed<k>/logs/     TensorBoard logs, regressor.keras, training_result.json (curves)\n"
    "  tensorboard/               the matrix and figures (headsynth tensorboard <study folder>)"
)


def write_study_report(
    result: StudyResult, config: HeadsynthConfig, training: dict, data_dirs: dict[str, str]
) -> str:
    """Writes `report.html` in the study folder; returns its path."""
    eval_dir = os.path.join(result.out_dir, "evaluation")
    report = HtmlReport(f"Variability study ({config.preset})")
    report.paragraph(summary_text(result, config))
    add_matrix_section(report, result)
    add_findings_section(report, result)
    add_probe_section(report, result)
    for name in ("error_violins.png", "error_vs_yaw.png", "saliency.png", "learning_curves.png"):
        if name in result.figures:
            report.image(os.path.join(eval_dir, name), result.figures[name])
    if result.identity:
        add_identity_section(report, result.identity, eval_dir)
        report.paragraph(
            f"Identity scores are measured on the test scenario {result.identity['test_scenario']}."
        )
    add_training_section(report, result, training)
    report.heading("Training data")
    for scenario in result.scenarios:
        report.image(
            os.path.join(data_dirs[scenario], f"contact_sheet_{scenario}.png"),
            f"The first training examples of scenario {scenario}.",
        )
    report.heading("Files")
    report.preformatted(f"study folder: {result.out_dir}\n{FILES}")
    return report.write(os.path.join(result.out_dir, "report.html"))


def summary_text(result: StudyResult, config: HeadsynthConfig) -> str:
    """The opening paragraph: what was trained on what, and evaluated on what."""
    num_test = result.naive[result.scenarios[0]]["count"]
    settings = wiring.variability_train_settings(config, 0)
    size, training = settings.image_size, settings.training
    num_train = config.variability.num_train or config.sampling.num_train
    return (
        f"{result.seeds} network(s) per training scenario ({', '.join(result.scenarios)}), each with its own "
        f"seed, trained on {num_train} renders at {size}x{size} "
        f"for {training.train_steps} steps of {training.batch_size} ({training.backbone}, {training.head} head, "
        f"{training.optimizer}, the training set's mean {training.input_mean} subtracted), and evaluated on "
        f"the same {num_test} test examples of every scenario "
        f"(parameters q ~ {config.sampling.sampler}, scale {config.sampling.scale:g}; "
        f"{config.face_model.shape_components} shape + {config.face_model.texture_components} texture components)."
    )


def add_matrix_section(report: HtmlReport, result: StudyResult) -> None:
    """The train x test matrix with CIs (best per column in bold), and as fractions of the naive error."""
    scenarios = result.scenarios
    report.heading("Mean error on q (train x test)")
    report.paragraph(
        "Mean squared euclidean error between predicted and true q over seeds and test images, with its 95% "
        "confidence interval (a bootstrap resampling the test images and, per network, the seeds). Rows: the scenario the network was trained on; columns: the test "
        "scenario; the last row is the naive predictor (q = 0). Bold: the best network per test scenario."
    )
    highlight = set()
    for c, test in enumerate(scenarios, start=1):
        best = int(np.argmin([result.matrix[net][test]["mean"] for net in scenarios]))
        highlight.add((best, c))
    rows = [
        [net, *(format_ci(result.cells(net)[test]) for test in scenarios)] for net in [*scenarios, "naive"]
    ]
    rows[-1][0] = "naive (q = 0)"
    report.table(["train \\ test", *scenarios], rows, highlight=highlight)
    report.paragraph(
        "The same as a fraction of the naive predictor's mean error (below 1: better than guessing 0):"
    )
    ratio_rows = [
        [net, *(f"{result.matrix[net][test]['mean'] / result.naive[test]['mean']:.3f}" for test in scenarios)]
        for net in scenarios
    ]
    report.table(["train \\ test", *scenarios], ratio_rows)


def add_findings_section(report: HtmlReport, result: StudyResult) -> None:
    """The paper's claims, each with whether it holds in this run and the differences behind it."""
    report.heading("Findings")
    if not result.findings:
        report.paragraph("No findings: they are about test scenario all, which this study did not evaluate.")
        return
    report.paragraph(
        "The paper's claims, computed from this run. Each comparison is the mean error of a minus that of b "
        "with its 95% CI over seeds and test images; a claim holds when every CI lies below 0."
    )
    rows = [
        [
            finding["figure"],
            finding["claim"],
            "holds" if finding["holds"] else "does not hold",
            "; ".join(
                f"{c['a']} - {c['b']}: {c['difference']:.3f} [{c['ci95'][0]:.3f}, {c['ci95'][1]:.3f}]"
                for c in finding["comparisons"]
            ),
        ]
        for finding in result.findings
    ]
    report.table(["figure", "claim", "in this run", "differences (95% CI)"], rows)


def add_probe_section(report: HtmlReport, result: StudyResult) -> None:
    """The factor probes: every network on the base scenario with one kind of the focus scenario's variability."""
    rows = result.probe_rows()
    if not rows:
        return
    probes = result.probes
    report.heading(f"Which factor of {probes['focus']} breaks which network")
    report.paragraph(
        f"Every network on test sets of {probes['base']} (the studied scenario closest to {probes['focus']}) "
        f"with one kind of {probes['focus']}'s variability added, drawn as {probes['focus']} draws it; the "
        f"same q and, for every other factor, the same draws as {probes['base']}'s test set, so a row "
        "differs from the first in that factor alone. Mean error with its 95% CI over seeds and images; "
        "bold: worse than naive (the CI lies above naive's mean)."
    )
    naive = probes["naive"]["mean"]
    cells = [probes["on_base"], *(group["errors"] for group in probes["groups"])]
    highlight = {
        (r, c)
        for r, errors in enumerate(cells)
        for c, net in enumerate(result.scenarios, start=1)
        if errors[net]["ci95_low"] > naive
    }
    report.table(rows[0], rows[1:], highlight=highlight)


def add_training_section(report: HtmlReport, result: StudyResult, training: dict) -> None:
    """Steps, final losses (training and inference mode) and seconds per network, and the time of every stage."""
    report.heading("Training")
    train_rows = [
        [
            name,
            values.get("train_steps", ""),
            f"{values.get('train_loss', float('nan')):.3f}",
            f"{values.get('train_inference_loss', float('nan')):.3f}",
            f"{values.get('val_loss', float('nan')):.3f}",
            f"{result.seconds.get(f'training_{name}', 0.0):.0f}",
        ]
        for name, values in training.items()
    ]
    report.table(
        [
            "network",
            "steps",
            "final training loss (training mode)",
            "final training loss (inference mode)",
            "final validation loss",
            "seconds",
        ],
        train_rows,
    )
    report.paragraph(
        "Time: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items() if not k.startswith("training_"))
    )
