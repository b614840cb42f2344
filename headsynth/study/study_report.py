"""The study's self-contained HTML report: the train x test matrix, the figures, the identity table."""

from __future__ import annotations

import os

import numpy as np

from headsynth.components.evaluation.run_report import add_identity_section
from headsynth.config import HeadsynthConfig
from headsynth.report.html import HtmlReport, format_ci


def write_study_report(result, config: HeadsynthConfig, training: dict, data_dirs: dict[str, str]) -> str:
    """Writes `report.html` in the study folder; returns its path."""
    scenarios = result.scenarios
    eval_dir = os.path.join(result.out_dir, "evaluation")
    num_test = result.naive[scenarios[0]]["count"]
    report = HtmlReport(f"Variability study ({config.preset})")
    report.paragraph(
        f"One network per training scenario ({', '.join(scenarios)}), each trained on "
        f"{config.sampling.num_train} renders at {config.rendering.image_size}x{config.rendering.image_size} "
        f"for {config.training.train_steps} steps ({config.training.backbone}, {config.training.head} head, "
        f"{config.training.optimizer}), and evaluated on the same {num_test} test examples of every scenario "
        f"(parameters q ~ {config.sampling.sampler}, scale {config.sampling.scale:g}; "
        f"{config.face_model.shape_components} shape + {config.face_model.texture_components} texture components)."
    )
    report.heading("Mean error on q (train x test)")
    report.paragraph(
        "Mean squared euclidean error between predicted and true q, with its 95% confidence interval "
        "(mean +- 1.96 standard errors). Rows: the scenario the network was trained on; columns: the test "
        "scenario; the last row is the naive predictor (q = 0). Bold: the best network per test scenario."
    )
    rows, ratio_rows, highlight = [], [], set()
    for c, test in enumerate(scenarios, start=1):
        best = int(np.argmin([result.matrix[net][test]["mean"] for net in scenarios]))
        highlight.add((best, c))
    for net in scenarios:
        rows.append([net, *(format_ci(result.matrix[net][test]) for test in scenarios)])
        ratio_rows.append(
            [
                net,
                *(
                    f"{result.matrix[net][test]['mean'] / result.naive[test]['mean']:.3f}"
                    for test in scenarios
                ),
            ]
        )
    rows.append(["naive (q = 0)", *(format_ci(result.naive[test]) for test in scenarios)])
    report.table(["train \\ test", *scenarios], rows, highlight=highlight)
    report.paragraph(
        "The same as a fraction of the naive predictor's mean error (below 1: better than guessing 0):"
    )
    report.table(["train \\ test", *scenarios], ratio_rows)
    for name in ("error_violins.png", "error_vs_yaw.png", "saliency.png"):
        if name in result.figures:
            report.image(os.path.join(eval_dir, name), result.figures[name])
    if result.identity:
        add_identity_section(report, result.identity, eval_dir)
        report.paragraph(
            f"Identity scores are measured on the test scenario {result.identity['test_scenario']}."
        )
    report.heading("Training")
    train_rows = [
        [
            net,
            training[net].get("train_steps", ""),
            f"{training[net].get('train_loss', float('nan')):.3f}",
            f"{training[net].get('val_loss', float('nan')):.3f}",
            f"{result.seconds.get(f'training_{net}', 0.0):.0f}",
        ]
        for net in scenarios
    ]
    report.table(["network", "steps", "final train loss", "final validation loss", "seconds"], train_rows)
    report.paragraph(
        "Time: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items() if not k.startswith("training_"))
    )
    report.heading("Training data")
    for scenario in scenarios:
        report.image(
            os.path.join(data_dirs[scenario], f"contact_sheet_{scenario}.png"),
            f"The first training examples of scenario {scenario}.",
        )
    report.heading("Files")
    report.preformatted(
        f"study folder: {result.out_dir}\n"
        "  study.json                 the matrix with CIs, identity table, timings\n"
        "  evaluation/errors.npz      per-example errors (<net>__on__<test>, naive__on__<test>, yaw__<test>)\n"
        "  nets/<scenario>/serving/   the SavedModels (headsynth predict PHOTO --model nets/<scenario>)\n"
        "  nets/<scenario>/logs/      TensorBoard logs, regressor.keras\n"
        "  tensorboard/               the matrix and figures (headsynth tensorboard <study folder>)"
    )
    return report.write(os.path.join(result.out_dir, "report.html"))
