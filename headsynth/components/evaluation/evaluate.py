"""Evaluation: the regressor's squared-euclidean error on q against the naive zero predictor.

Runs the exported SavedModel's `serving_examples` signature (so the exported
graph is what gets measured) over a split of rendered examples and writes:

    metrics.json        mean/median error of the net and of the naive predictor, 95% CIs,
                        violin statistics, the error-vs-yaw curve, the identity table
    errors.npz          per-example errors, yaw, index, q true and predicted
    error_violin.png    error distributions, net vs naive (the paper's Fig. 7)
    error_vs_yaw.png    moving average of the error against yaw (the paper's Fig. 8)
    saliency.png        input, saliency, prediction and truth rendered in scenario none
                        (the paper's Fig. 9; needs the Keras model, see `saliency.py`)
    identity.json       identity scores of net and naive, corrected scores, ranks, CIs
    real_photos/        every face of real photos reconstructed and scored (`real_photos.py`;
                        evaluation.real_photos: the packaged photos, a folder, or "" to skip)
    identity_scores.png, identity_distributions.png   (the thesis's Figs. 6.13 and 4.7)
    report.html         all of the above in one self-contained page
    tensorboard/        the scalars and figures as TensorBoard events
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import asdict, dataclass

import numpy as np
import tensorflow as tf

from headsynth.components.evaluation.example_set import (
    ExampleSet,
    load_example_set,
    pick_examples,
    rendered_face_model_and_scale,
)
from headsynth.components.evaluation.identity_eval import identity_evaluation
from headsynth.components.evaluation.real_photos import evaluate_model_on_real_photos
from headsynth.components.evaluation.run_report import write_run_report
from headsynth.components.evaluation.saliency import load_keras_regressor, saliency_maps
from headsynth.components.rendering.painter import HeadPainter, decode_images
from headsynth.config import EvaluationConfig
from headsynth.core.io_utils import write_bytes_atomic, write_text_atomic
from headsynth.report.figures import (
    SaliencyRow,
    default_window,
    moving_average,
    plot_error_violin,
    plot_error_vs_yaw,
    plot_saliency,
    violin_statistics,
)
from headsynth.report.tensorboard import write_summaries
from headsynth.report.values import json_ready

# ExampleSet, load_example_set and pick_examples live in `example_set.py`; the studies import them from here.
__all__ = [
    "ErrorSummary",
    "ExampleSet",
    "evaluate_model",
    "load_example_set",
    "moving_average",
    "pick_examples",
    "plot_error_violin",
    "plot_error_vs_yaw",
    "predict_examples",
    "squared_errors",
    "summarize_errors",
]

REPORT_FILE = "report.html"
SALIENCY_CAPTION = (
    "Input, saliency (|gradient| of the first parameter w.r.t. the input), and the "
    "prediction and truth rendered in scenario none."
)


@dataclass(frozen=True)
class ErrorSummary:
    """Mean and spread of per-example errors.

    Attributes:
        mean: mean error.
        median: median error.
        ci95_low: lower end of the 95% confidence interval of the mean.
        ci95_high: upper end.
        count: number of examples.
    """

    mean: float
    median: float
    ci95_low: float
    ci95_high: float
    count: int


def summarize_errors(errors: np.ndarray) -> ErrorSummary:
    """Mean, median and a normal-approximation 95% CI of the mean."""
    errors = np.asarray(errors, np.float64)
    half_width = 1.96 * errors.std(ddof=1) / np.sqrt(len(errors)) if len(errors) > 1 else float("nan")
    mean = float(errors.mean())
    return ErrorSummary(mean, float(np.median(errors)), mean - half_width, mean + half_width, len(errors))


def squared_errors(q_true: np.ndarray, q_pred: np.ndarray) -> np.ndarray:
    """Per-example squared euclidean distance, the paper's loss."""
    return np.sum((np.asarray(q_pred, np.float64) - np.asarray(q_true, np.float64)) ** 2, axis=-1)


def predict_examples(
    saved_model_dir: str, records: list[bytes], batch_size: int = 64, loaded=None
) -> np.ndarray:
    """q predicted by the SavedModel's `serving_examples` signature (pass `loaded` to reuse a load)."""
    loaded = loaded if loaded is not None else tf.saved_model.load(saved_model_dir)
    signature = loaded.signatures["serving_examples"]
    predictions = [
        signature(examples=tf.constant(records[start : start + batch_size]))["q"].numpy()
        for start in range(0, len(records), batch_size)
    ]
    return np.concatenate(predictions, axis=0)


def error_metrics(examples: ExampleSet, errors: dict[str, np.ndarray], split: str, window: int) -> dict:
    """metrics.json's error part: summaries, violin statistics and the error-vs-yaw curve.

    Args:
        examples: the evaluated split.
        errors: "net" and "naive" -> `[N]` squared errors.
        split: the split's name.
        window: the moving average's window.
    """
    net, naive = summarize_errors(errors["net"]), summarize_errors(errors["naive"])
    curve_x, curve_net = moving_average(examples.yaw, errors["net"], window)
    _, curve_naive = moving_average(examples.yaw, errors["naive"], window)
    return {
        "split": split,
        "scenario": examples.scenario,
        "num_parameters": int(examples.q.shape[1]),
        "net": asdict(net),
        "naive": asdict(naive),
        "net_over_naive": net.mean / naive.mean,
        "beats_naive": bool(net.ci95_high < naive.mean),
        "violin": {name: violin_statistics(errors[name]) for name in ("net", "naive")},
        "error_vs_yaw": {
            "window": window,
            "yaw": curve_x.tolist(),
            "net": curve_net.tolist(),
            "naive": curve_naive.tolist(),
        },
    }


def write_errors_file(
    output_dir: str, examples: ExampleSet, q_pred: np.ndarray, errors: dict[str, np.ndarray]
) -> None:
    """errors.npz: per-example errors, yaw, index, q true and predicted."""
    packed = io.BytesIO()  # np.savez seeks in its file; gfile writes (e.g. to GCS) are streams
    np.savez(
        packed,
        net=errors["net"],
        naive=errors["naive"],
        yaw=examples.yaw,
        index=examples.index,
        q_true=examples.q,
        q_pred=q_pred,
    )
    write_bytes_atomic(os.path.join(output_dir, "errors.npz"), packed.getvalue())


def write_error_figures(
    output_dir: str, examples: ExampleSet, errors: dict[str, np.ndarray], window: int
) -> dict[str, str]:
    """Writes error_violin.png and error_vs_yaw.png; returns file name -> caption."""
    plot_error_violin(errors, os.path.join(output_dir, "error_violin.png"), examples.scenario)
    plot_error_vs_yaw(
        {name: (examples.yaw, errors[name]) for name in ("net", "naive")},
        os.path.join(output_dir, "error_vs_yaw.png"),
        window,
    )
    return {
        "error_violin.png": "Error of the network and of the naive predictor (q = 0); lines: median, quartiles.",
        "error_vs_yaw.png": f"Moving average (window {window}) of the error against the yaw angle.",
    }


def evaluate_model(
    saved_model_dir: str,
    examples_dir: str,
    output_dir: str,
    split: str = "eval",
    keras_model_path: str | None = None,
    options: EvaluationConfig | None = None,
    title: str = "",
) -> dict:
    """Evaluates a SavedModel on one split and writes metrics, errors, figures and the report.

    Args:
        saved_model_dir: the exported SavedModel.
        examples_dir: the Examples folder (Split-*/ shards, face_model.npz, render.json).
        output_dir: where to write (see the module docstring).
        split: the split to evaluate on.
        keras_model_path: `regressor.keras`, for the saliency figure (left out if None or missing).
        options: figure sizes and the identity score (EvaluationConfig defaults if None).
        title: the report's title.

    Returns:
        The metrics dict (also in `metrics.json`).
    """
    options = options or EvaluationConfig()
    examples = load_example_set(examples_dir, split)
    q_pred = predict_examples(saved_model_dir, examples.records)
    errors = {
        "net": squared_errors(examples.q, q_pred),
        "naive": squared_errors(examples.q, np.zeros_like(examples.q)),
    }
    window = default_window(len(errors["net"]), options.moving_average_window)
    metrics = error_metrics(examples, errors, split, window)
    tf.io.gfile.makedirs(output_dir)
    write_errors_file(output_dir, examples, q_pred, errors)
    figures = write_error_figures(output_dir, examples, errors, window)
    face_model, scale = rendered_face_model_and_scale(examples_dir)
    painter = HeadPainter(face_model, scale) if face_model is not None else None
    notes = []
    if options.saliency_examples > 0:
        note = write_saliency_figure(
            keras_model_path, examples, q_pred, painter, options.saliency_examples, output_dir
        )
        if note:
            notes.append(note)
        else:
            figures["saliency.png"] = SALIENCY_CAPTION
    if options.identity_backend != "none" and options.identity_examples > 0 and painter is not None:
        identity = identity_evaluation(
            examples, {"net": q_pred, "naive": np.zeros_like(q_pred)}, painter, options, output_dir
        )
        metrics["identity"] = identity
        figures.update(identity.get("figures") or {})
    if options.real_photos:
        metrics["real_photos"] = evaluate_model_on_real_photos(
            saved_model_dir, options.real_photos, output_dir, scale
        )
    metrics["notes"] = notes
    return finish_evaluation(metrics, figures, output_dir, examples_dir, title)


def finish_evaluation(
    metrics: dict, figures: dict[str, str], output_dir: str, examples_dir: str, title: str
) -> dict:
    """Writes the TensorBoard events, metrics.json and report.html; returns the JSON-ready metrics."""
    write_tensorboard(output_dir, metrics, figures)
    metrics["report"] = os.path.join(output_dir, REPORT_FILE)
    metrics = json_ready(metrics)
    write_text_atomic(os.path.join(output_dir, "metrics.json"), json.dumps(metrics, indent=2))
    write_run_report(metrics, figures, output_dir, examples_dir, title)
    return metrics


def write_saliency_figure(
    keras_model_path: str | None,
    examples: ExampleSet,
    q_pred: np.ndarray,
    painter: HeadPainter | None,
    count: int,
    output_dir: str,
) -> str:
    """Writes saliency.png for `count` examples; returns why not ("" when written)."""
    if not keras_model_path or not tf.io.gfile.exists(keras_model_path):
        return "Saliency figure left out: no Keras model (regressor.keras) was given."
    if painter is None:
        return "Saliency figure left out: the examples folder holds no face_model.npz to render with."
    model = load_keras_regressor(keras_model_path)
    size = int(model.input_shape[1])
    chosen = pick_examples(count, len(examples.records))
    images = decode_images([examples.images[i] for i in chosen], size)
    saliency, _ = saliency_maps(model, images)
    view = max(96, size)
    predictions = painter.render(q_pred[chosen], view)
    truths = painter.render(examples.q[chosen], view)
    rows = [
        SaliencyRow(
            f"example {examples.index[i]}\nyaw {examples.yaw[i]:.0f}",
            images[r],
            saliency[r],
            predictions[r],
            truths[r],
        )
        for r, i in enumerate(chosen)
    ]
    plot_saliency(rows, os.path.join(output_dir, "saliency.png"))
    return ""


def write_tensorboard(output_dir: str, metrics: dict, figures: dict[str, str]) -> None:
    """The evaluation's scalars and figures as TensorBoard events under `output_dir/tensorboard`."""
    scalars = {
        "evaluation/net_mean_error": metrics["net"]["mean"],
        "evaluation/naive_mean_error": metrics["naive"]["mean"],
        "evaluation/net_over_naive": metrics["net_over_naive"],
        "evaluation/net_median_error": metrics["net"]["median"],
    }
    for row in metrics.get("identity", {}).get("table", []):
        scalars[f"identity/{row['network']}_score"] = row["score"]["mean"]
        scalars[f"identity/{row['network']}_corrected_score"] = row["corrected_score"]["mean"]
    images = {name: os.path.join(output_dir, name) for name in figures}
    write_summaries(os.path.join(output_dir, "tensorboard"), scalars, images)
