"""Evaluation: the regressor's squared-euclidean error on q against the naive zero predictor.

Runs the exported SavedModel's `serving_examples` signature (so the exported
graph is what gets measured) over a split of rendered examples and writes:

    metrics.json        mean/median error of the net and of the naive predictor, 95% CIs
    errors.npz          per-example errors, yaw, index, q true and predicted
    error_violin.png    error distributions, net vs naive (the paper's Fig. 7)
    error_vs_yaw.png    moving average of the error against yaw (the paper's Fig. 8)
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

import numpy as np
import tensorflow as tf

from headsynth.components.rendering.render_job import read_examples
from headsynth.data_schemas import features
from headsynth.io_utils import atomic_path, write_text_atomic


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


def moving_average(x: np.ndarray, y: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Moving average of y over x-sorted samples (the paper's Fig. 8)."""
    order = np.argsort(x)
    x, y = np.asarray(x)[order], np.asarray(y)[order]
    window = max(1, min(window, len(x)))
    kernel = np.ones(window) / window
    return np.convolve(x, kernel, mode="valid"), np.convolve(y, kernel, mode="valid")


def predict_examples(saved_model_dir: str, records: list[bytes], batch_size: int = 64) -> np.ndarray:
    """q predicted by the SavedModel's `serving_examples` signature."""
    loaded = tf.saved_model.load(saved_model_dir)
    signature = loaded.signatures["serving_examples"]
    predictions = [
        signature(examples=tf.constant(records[start : start + batch_size]))["q"].numpy()
        for start in range(0, len(records), batch_size)
    ]
    return np.concatenate(predictions, axis=0)


def evaluate_model(saved_model_dir: str, examples_dir: str, output_dir: str, split: str = "eval") -> dict:
    """Evaluates a SavedModel on one split and writes metrics, errors and figures.

    Returns:
        The metrics dict (also in `metrics.json`).
    """
    records = read_examples(examples_dir, split)
    if not records:
        raise ValueError(f"No examples in split {split!r} of {examples_dir}.")
    parsed = [tf.train.Example.FromString(r).features.feature for r in records]
    q_true = np.array([list(f[features.PARAMETERS].float_list.value) for f in parsed], np.float32)
    yaw = np.array([f["yaw_deg"].float_list.value[0] for f in parsed], np.float32)
    index = np.array([f[features.INDEX].int64_list.value[0] for f in parsed], np.int64)
    scenario = parsed[0][features.SCENARIO].bytes_list.value[0].decode()
    q_pred = predict_examples(saved_model_dir, records)
    net_errors = squared_errors(q_true, q_pred)
    naive_errors = squared_errors(q_true, np.zeros_like(q_true))
    net, naive = summarize_errors(net_errors), summarize_errors(naive_errors)
    metrics = {
        "split": split,
        "scenario": scenario,
        "num_parameters": int(q_true.shape[1]),
        "net": asdict(net),
        "naive": asdict(naive),
        "net_over_naive": net.mean / naive.mean,
        "beats_naive": bool(net.ci95_high < naive.mean),
    }
    tf.io.gfile.makedirs(output_dir)
    with atomic_path(os.path.join(output_dir, "errors.npz")) as tmp:
        with open(tmp, "wb") as f:
            np.savez(
                f, net=net_errors, naive=naive_errors, yaw=yaw, index=index, q_true=q_true, q_pred=q_pred
            )
    plot_error_violin(
        {"net": net_errors, "naive": naive_errors}, os.path.join(output_dir, "error_violin.png"), scenario
    )
    plot_error_vs_yaw(
        {"net": (yaw, net_errors), "naive": (yaw, naive_errors)}, os.path.join(output_dir, "error_vs_yaw.png")
    )
    write_text_atomic(os.path.join(output_dir, "metrics.json"), json.dumps(metrics, indent=2))
    return metrics


def _save_figure(figure, path: str) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)


def plot_error_violin(errors: dict[str, np.ndarray], path: str, scenario: str = "") -> None:
    """Violin plot of error distributions with median and quartiles (the paper's Fig. 7)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(errors)
    figure, axis = plt.subplots(figsize=(1.6 + 1.3 * len(names), 3.6))
    data = [np.asarray(errors[n]) for n in names]
    parts = axis.violinplot(data, showextrema=False)
    for body in parts["bodies"]:
        body.set_alpha(0.5)
    for i, values in enumerate(data, start=1):
        q1, med, q3 = np.percentile(values, [25, 50, 75])
        axis.hlines([q1, q3], i - 0.15, i + 0.15, color="k", linewidth=0.8)
        axis.hlines(med, i - 0.25, i + 0.25, color="k", linewidth=1.6)
    axis.set_xticks(range(1, len(names) + 1), names)
    axis.set_ylabel("squared euclidean error on q")
    axis.set_title(f"Error on {scenario or 'held-out'} examples (n={len(data[0])})")
    _save_figure(figure, path)


def plot_error_vs_yaw(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: str, window: int = 0) -> None:
    """Moving average of error against yaw angle (the paper's Fig. 8)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5.5, 3.4))
    for name, (yaw, errors) in curves.items():
        size = window or max(1, len(yaw) // 10)
        x, y = moving_average(yaw, errors, size)
        axis.plot(x, y, label=name)
    axis.set_xlabel("yaw (degrees)")
    axis.set_ylabel("error (moving average)")
    axis.legend()
    _save_figure(figure, path)
