"""The variability study's evaluation: every network on every test set, the figures, the identity scores."""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from headsynth.components.evaluation.evaluate import (
    ExampleSet,
    load_example_set,
    pick_examples,
    predict_examples,
    squared_errors,
)
from headsynth.components.evaluation.identity_eval import identity_evaluation
from headsynth.components.evaluation.saliency import load_keras_regressor, saliency_maps
from headsynth.components.rendering.painter import HeadPainter, decode_images, decode_masks, resize_masks
from headsynth.config import HeadsynthConfig
from headsynth.core.progress import report as progress
from headsynth.morphable.model import MorphableModel
from headsynth.report.figures import (
    SaliencyRow,
    plot_error_violins,
    plot_error_vs_yaw_panels,
    plot_learning_curves,
    plot_saliency,
)
from headsynth.study.variability_findings import Bootstrap, compute_findings, mean_with_ci
from headsynth.study.variability_probes import ProbeSets, probe_summary, slug
from headsynth.study.variability_result import StudyResult, study_scenarios, write_study_tensorboard

# Errors: network (a scenario, or "naive" for q = 0) -> test scenario -> `[S, N]` squared errors (naive: S = 1).
Errors = dict[str, dict[str, np.ndarray]]
# Predictions: network -> one dict per seed: test scenario (or PROBE + group) -> `[N, m]` predicted q.
Predictions = dict[str, list[dict[str, np.ndarray]]]
PROBE = "probe: "

ERROR_VIOLINS = (
    "Error per trained network (rows of the matrix; all seeds pooled) on each test scenario, with the naive "
    "predictor (q = 0); horizontal lines: median and quartiles (the paper's Fig. 7)."
)
ERROR_VS_YAW = (
    "Moving average of the error against the yaw angle (all seeds pooled), per test scenario with varying yaw "
    "(the paper's Fig. 8)."
)
LEARNING_CURVES = (
    "Learning curves of every network (one colour per seed): Keras' training loss (training mode, averaged over "
    "each epoch), and the training and validation error measured the same way, in inference mode, at each epoch "
    "end. A validation error far above the inference-mode training error is over-fitting."
)


def evaluate_study(
    config: HeadsynthConfig,
    out_dir: str,
    model: MorphableModel,
    data_dirs: dict[str, str],
    training: dict,
    probes: ProbeSets | None = None,
) -> StudyResult:
    """Evaluates every network on every test set (and probe); writes errors, figures, findings, identity
    and TensorBoard."""
    scenarios, focus = study_scenarios(config)
    seeds = config.variability.seeds
    eval_dir = os.path.join(out_dir, "evaluation")
    os.makedirs(eval_dir, exist_ok=True)
    test_sets = {s: load_example_set(data_dirs[s], "eval") for s in scenarios}
    probe_sets = {PROBE + g: load_example_set(d, "eval") for g, d in (probes.dirs if probes else {}).items()}
    predictions = predict_test_sets(out_dir, scenarios, seeds, {**test_sets, **probe_sets})
    errors = {
        net: {s: np.stack([squared_errors(test_sets[s].q, p[s]) for p in per_seed]) for s in scenarios}
        for net, per_seed in predictions.items()
    }
    errors["naive"] = {
        s: squared_errors(test_sets[s].q, np.zeros_like(test_sets[s].q))[None] for s in scenarios
    }
    resamples = config.variability.bootstrap
    bootstraps = {s: Bootstrap.of(len(test_sets[s].q), resamples) for s in scenarios}
    summaries = {
        net: {s: mean_with_ci(e, bootstraps[s]) for s, e in cells.items()} for net, cells in errors.items()
    }
    naive = summaries.pop("naive")
    save_errors(eval_dir, errors, test_sets)
    figures = plot_errors(eval_dir, errors, test_sets, config.evaluation.moving_average_window)
    plot_learning_curves(
        learning_curves(training, scenarios, seeds), os.path.join(eval_dir, "learning_curves.png")
    )
    figures["learning_curves.png"] = LEARNING_CURVES
    shares = saliency_shares(
        out_dir, scenarios, seeds, test_sets[focus], config.variability.saliency_share_examples
    )
    findings = []
    if "all" in test_sets:
        on_all = {net: cells["all"] for net, cells in errors.items()}
        findings = compute_findings(on_all, test_sets["all"].yaw, shares if focus == "all" else {}, resamples)
    painter = HeadPainter(model, config.sampling.scale)
    figures.update(
        study_saliency_figure(config, out_dir, scenarios, test_sets[focus], predictions, focus, painter)
    )
    identity = evaluate_identity(config, eval_dir, test_sets[focus], predictions, focus, painter)
    if identity:
        figures.update(identity["figures"])
    result = StudyResult(out_dir, scenarios, summaries, naive, identity, {}, "", figures, findings, seeds)
    if probes:
        result.probes = evaluate_probes(eval_dir, probes, probe_sets, predictions, errors, resamples)
    write_study_tensorboard(result)
    return result


def evaluate_probes(
    eval_dir: str,
    probes: ProbeSets,
    probe_sets: dict[str, ExampleSet],
    predictions: Predictions,
    errors: Errors,
    resamples: int,
) -> dict:
    """Every network's errors on the factor probes (`probe_summary`); per-example errors to `probe_errors.npz`
    (`<net>__on__<group slug>` `[S, N]`)."""
    on_probes = {
        net: {
            group: np.stack([squared_errors(probe_sets[PROBE + group].q, p[PROBE + group]) for p in per_seed])
            for group in probes.dirs
        }
        for net, per_seed in predictions.items()
    }
    np.savez(
        os.path.join(eval_dir, "probe_errors.npz"),
        **{f"{net}__on__{slug(g)}": e for net, cells in on_probes.items() for g, e in cells.items()},
    )
    on_base = {net: cells[probes.base] for net, cells in errors.items() if net != "naive"}
    return probe_summary(probes, on_probes, errors["naive"][probes.base], on_base, resamples)


def network_folder(out_dir: str, scenario: str, seed_index: int) -> str:
    """`<out_dir>/nets/<scenario>/seed<k>`."""
    return os.path.join(out_dir, "nets", scenario, f"seed{seed_index}")


def predict_test_sets(
    out_dir: str, scenarios: list[str], seeds: int, test_sets: dict[str, ExampleSet]
) -> Predictions:
    """network -> per seed: test set -> `[N, m]` predicted q, each SavedModel loaded once.

    Args:
        scenarios: the networks' training scenarios.
        test_sets: name -> examples (the scenarios' test sets, and any probes).
    """
    predictions: Predictions = {}
    for net in scenarios:
        progress("study", f"evaluating the {net!r} networks ({seeds} seeds) on {len(test_sets)} test sets")
        predictions[net] = []
        for seed_index in range(seeds):
            loaded = tf.saved_model.load(os.path.join(network_folder(out_dir, net, seed_index), "serving"))
            predictions[net].append(
                {
                    name: predict_examples("", examples.records, loaded=loaded)
                    for name, examples in test_sets.items()
                }
            )
    return predictions


def learning_curves(training: dict, scenarios: list[str], seeds: int) -> dict[str, list[dict]]:
    """network -> per seed: its training result's `curves` (empty lists when it has none)."""
    empty = {"step": [], "train_loss": [], "train_inference_loss": [], "val_loss": []}
    return {
        net: [training.get(f"{net}/seed{k}", {}).get("curves", empty) for k in range(seeds)]
        for net in scenarios
    }


def save_errors(eval_dir: str, errors: Errors, test_sets: dict[str, ExampleSet]) -> None:
    """`errors.npz`: `<net>__on__<test>` `[S, N]` (naive: `[1, N]`) and `yaw__<test>` `[N]`."""
    arrays = {f"{net}__on__{s}": e for net, cells in errors.items() for s, e in cells.items()}
    arrays.update({f"yaw__{s}": examples.yaw for s, examples in test_sets.items()})
    np.savez(os.path.join(eval_dir, "errors.npz"), **arrays)


def plot_errors(
    eval_dir: str, errors: Errors, test_sets: dict[str, ExampleSet], window: int
) -> dict[str, str]:
    """Fig. 7 (error violins) and, for test sets whose yaw varies, Fig. 8; returns file name -> caption."""
    panels = {s: {net: cells[s].ravel() for net, cells in errors.items()} for s in test_sets}
    plot_error_violins(panels, os.path.join(eval_dir, "error_violins.png"))
    figures = {"error_violins.png": ERROR_VIOLINS}
    varying = [s for s, examples in test_sets.items() if np.ptp(examples.yaw) > 0]
    if varying:
        curves = {
            s: {
                net: (np.tile(test_sets[s].yaw, len(cells[s])), cells[s].ravel())
                for net, cells in errors.items()
            }
            for s in varying
        }
        plot_error_vs_yaw_panels(curves, os.path.join(eval_dir, "error_vs_yaw.png"), window)
        figures["error_vs_yaw.png"] = ERROR_VS_YAW
    return figures


def saliency_shares(
    out_dir: str, scenarios: list[str], seeds: int, examples: ExampleSet, count: int
) -> dict[str, np.ndarray]:
    """network -> `[S, K]` share of each of K test images' saliency that falls inside its head mask (Fig. 9).

    Empty when `count` is 0 or the examples hold no masks.
    """
    chosen = pick_examples(count, len(examples.q))
    if not len(chosen) or examples.masks is None:
        return {}
    masks = decode_masks([examples.masks[i] for i in chosen])
    shares = {}
    for net in scenarios:
        per_seed = []
        for seed_index in range(seeds):
            keras_model = load_keras_regressor(
                os.path.join(network_folder(out_dir, net, seed_index), "logs", "regressor.keras")
            )
            size = int(keras_model.input_shape[1])
            saliency, _ = saliency_maps(
                keras_model, decode_images([examples.images[i] for i in chosen], size)
            )
            inside = masks if masks.shape[1] == size else resize_masks(masks, size)
            per_seed.append(
                (saliency * inside).sum(axis=(1, 2)) / np.maximum(saliency.sum(axis=(1, 2)), 1e-12)
            )
        shares[net] = np.stack(per_seed)
    return shares


def study_saliency_figure(
    config: HeadsynthConfig,
    out_dir: str,
    scenarios: list[str],
    examples: ExampleSet,
    predictions: Predictions,
    focus: str,
    painter: HeadPainter,
) -> dict[str, str]:
    """Fig. 9 (seed 0 networks) when `evaluation.saliency_examples` > 0; returns file name -> caption."""
    if config.evaluation.saliency_examples <= 0:
        return {}
    first_seed = {net: per_seed[0] for net, per_seed in predictions.items()}
    write_study_saliency(
        out_dir, scenarios, examples, first_seed, focus, painter, config.evaluation.saliency_examples
    )
    return {
        "saliency.png": (
            f"Test examples of scenario {focus}: input, saliency (|gradient| of the first parameter w.r.t. the "
            "input), the prediction and the truth rendered in scenario none; one row per network (seed 0; the "
            "paper's Fig. 9)."
        )
    }


def evaluate_identity(
    config: HeadsynthConfig,
    eval_dir: str,
    examples: ExampleSet,
    predictions: Predictions,
    focus: str,
    painter: HeadPainter,
) -> dict | None:
    """Identity scores of every network (seed 0) and naive on the focus test set; None when switched off."""
    options = config.evaluation
    if options.identity_backend == "none" or options.identity_examples <= 0:
        return None
    progress(
        "study",
        f"identity scores ({options.identity_backend}) on {options.identity_examples} {focus!r} examples",
    )
    compared = {net: per_seed[0][focus] for net, per_seed in predictions.items()}
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
        keras_model = load_keras_regressor(
            os.path.join(network_folder(out_dir, net, 0), "logs", "regressor.keras")
        )
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
