"""The variability study's evaluation: every network on every test set, the figures, the identity scores."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow as tf

from headsynth.components.evaluation.evaluate import (
    ExampleSet,
    load_example_set,
    pick_examples,
    predict_examples,
    squared_errors,
    summarize_errors,
)
from headsynth.components.evaluation.identity_eval import identity_evaluation
from headsynth.components.evaluation.saliency import load_keras_regressor, saliency_maps
from headsynth.components.rendering.painter import HeadPainter, decode_images
from headsynth.config import HeadsynthConfig
from headsynth.core.progress import report as progress
from headsynth.morphable.model import MorphableModel
from headsynth.report.figures import SaliencyRow, plot_error_violins, plot_error_vs_yaw_panels, plot_saliency
from headsynth.study.variability_result import StudyResult, study_scenarios, write_study_tensorboard

# Errors: network (a scenario, or "naive" for q = 0) -> test scenario -> `[N]` squared errors.
Errors = dict[str, dict[str, np.ndarray]]

ERROR_VIOLINS = (
    "Error per trained network (rows of the matrix) on each test scenario, with the naive predictor "
    "(q = 0); horizontal lines: median and quartiles (the paper's Fig. 7)."
)
ERROR_VS_YAW = "Moving average of the error against the yaw angle, per test scenario with varying yaw (the paper's Fig. 8)."


def evaluate_study(
    config: HeadsynthConfig, out_dir: str, model: MorphableModel, data_dirs: dict[str, str]
) -> StudyResult:
    """Evaluates every network on every test set; writes errors, figures, identity and TensorBoard."""
    scenarios, focus = study_scenarios(config)
    options = config.evaluation
    eval_dir = os.path.join(out_dir, "evaluation")
    os.makedirs(eval_dir, exist_ok=True)
    test_sets = {s: load_example_set(data_dirs[s], "eval") for s in scenarios}
    predictions = predict_test_sets(out_dir, scenarios, test_sets)
    errors = {
        net: {s: squared_errors(test_sets[s].q, predictions[net][s]) for s in scenarios} for net in scenarios
    }
    errors["naive"] = {s: squared_errors(test_sets[s].q, np.zeros_like(test_sets[s].q)) for s in scenarios}
    summaries = {
        net: {s: dataclasses.asdict(summarize_errors(e)) for s, e in cells.items()}
        for net, cells in errors.items()
    }
    naive = summaries.pop("naive")
    save_errors(eval_dir, errors, test_sets)
    figures = plot_errors(eval_dir, errors, test_sets, options.moving_average_window)
    painter = HeadPainter(model, config.sampling.scale)
    if options.saliency_examples > 0:
        write_study_saliency(
            out_dir, scenarios, test_sets[focus], predictions, focus, painter, options.saliency_examples
        )
        figures["saliency.png"] = (
            f"Test examples of scenario {focus}: input, saliency (|gradient| of the first parameter w.r.t. the "
            "input), the prediction and the truth rendered in scenario none; one row per network (the paper's Fig. 9)."
        )
    identity = evaluate_identity(config, eval_dir, test_sets[focus], predictions, focus, painter)
    if identity:
        figures.update(identity["figures"])
    result = StudyResult(out_dir, scenarios, summaries, naive, identity, {}, "", figures)
    write_study_tensorboard(result)
    return result


def predict_test_sets(
    out_dir: str, scenarios: list[str], test_sets: dict[str, ExampleSet]
) -> dict[str, dict[str, np.ndarray]]:
    """network -> test scenario -> `[N, m]` predicted q, each SavedModel loaded once."""
    predictions = {}
    for net in scenarios:
        progress("study", f"evaluating the {net!r} network on {len(scenarios)} test sets")
        loaded = tf.saved_model.load(os.path.join(out_dir, "nets", net, "serving"))
        predictions[net] = {s: predict_examples("", test_sets[s].records, loaded=loaded) for s in scenarios}
    return predictions


def save_errors(eval_dir: str, errors: Errors, test_sets: dict[str, ExampleSet]) -> None:
    """`errors.npz`: `<net>__on__<test>` (the networks, then naive) and `yaw__<test>`, each `[N]`."""
    arrays = {f"{net}__on__{s}": e for net, cells in errors.items() for s, e in cells.items()}
    arrays.update({f"yaw__{s}": examples.yaw for s, examples in test_sets.items()})
    np.savez(os.path.join(eval_dir, "errors.npz"), **arrays)


def plot_errors(
    eval_dir: str, errors: Errors, test_sets: dict[str, ExampleSet], window: int
) -> dict[str, str]:
    """Fig. 7 (error violins) and, for test sets whose yaw varies, Fig. 8; returns file name -> caption."""
    panels = {s: {net: cells[s] for net, cells in errors.items()} for s in test_sets}
    plot_error_violins(panels, os.path.join(eval_dir, "error_violins.png"))
    figures = {"error_violins.png": ERROR_VIOLINS}
    varying = [s for s, examples in test_sets.items() if np.ptp(examples.yaw) > 0]
    if varying:
        curves = {s: {net: (test_sets[s].yaw, cells[s]) for net, cells in errors.items()} for s in varying}
        plot_error_vs_yaw_panels(curves, os.path.join(eval_dir, "error_vs_yaw.png"), window)
        figures["error_vs_yaw.png"] = ERROR_VS_YAW
    return figures


def evaluate_identity(
    config: HeadsynthConfig,
    eval_dir: str,
    examples: ExampleSet,
    predictions: dict[str, dict[str, np.ndarray]],
    focus: str,
    painter: HeadPainter,
) -> dict | None:
    """Identity scores of every network (and naive) on the focus test set; None when switched off."""
    options = config.evaluation
    if options.identity_backend == "none" or options.identity_examples <= 0:
        return None
    progress(
        "study",
        f"identity scores ({options.identity_backend}) on {options.identity_examples} {focus!r} examples",
    )
    compared = {net: by_test[focus] for net, by_test in predictions.items()}
    compared["naive"] = np.zeros_like(examples.q)
    identity = identity_evaluation(examples, compared, painter, options, eval_dir)
    identity["test_scenario"] = focus
    return identity


def write_study_saliency(
    out_dir: str,
    scenarios: list[str],
    examples: ExampleSet,
    predictions: dict[str, dict[str, np.ndarray]],
    focus: str,
    painter: HeadPainter,
    count: int,
) -> None:
    """Fig. 9: for each chosen test example, one row per network."""
    chosen = pick_examples(count, len(examples.q))
    view = 96  # side of the scenario-none renders of prediction and truth
    truths = painter.render(examples.q[chosen], view)
    per_net = {}
    for net in scenarios:
        keras_model = load_keras_regressor(os.path.join(out_dir, "nets", net, "logs", "regressor.keras"))
        size = int(keras_model.input_shape[1])
        images = decode_images([examples.images[i] for i in chosen], size)
        saliency, _ = saliency_maps(keras_model, images)
        per_net[net] = (images, saliency, painter.render(predictions[net][focus][chosen], view))
    per_line = 2 if len(chosen) > 1 else 1  # two examples side by side, one line per network
    rows = []
    for start in range(0, len(chosen), per_line):
        for net in scenarios:
            images, saliency, renders = per_net[net]
            for r in range(start, start + per_line):
                if r >= len(chosen):
                    rows.append(None)
                    continue
                label = f"net {net}\nexample {examples.index[chosen[r]]}"
                rows.append(SaliencyRow(label, images[r], saliency[r], renders[r], truths[r]))
    plot_saliency(rows, os.path.join(out_dir, "evaluation", "saliency.png"), per_line)
