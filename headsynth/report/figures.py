"""The evaluation figures (matplotlib, Agg backend, PNG) and the statistics behind them.

- Error violins with median and quartiles against the naive zero predictor (the paper's Fig. 7).
- Moving average of the error against yaw (the paper's Fig. 8).
- Input, saliency, rendering of the prediction and of the truth (the paper's Fig. 9).
- Same-vs-different identity score distributions (the thesis's Fig. 4.7) and
  identity scores with 95% confidence intervals (the thesis's Fig. 6.13).

The statistics (`violin_statistics`, `moving_average`) are separate from the
drawing so tests can check them by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from headsynth.core.io_utils import write_bytes_atomic

COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path: str) -> None:
    """Writes a figure as PNG atomically (locally or on any filesystem tf.io.gfile knows) and closes it."""
    import io

    plt = _pyplot()
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    write_bytes_atomic(path, png.getvalue())


# Statistics ------------------------------------------------------------------


def violin_statistics(values: np.ndarray) -> dict[str, float]:
    """The numbers a violin shows: quartiles (the horizontal lines), extremes, mean, count."""
    values = np.asarray(values, np.float64)
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return {
        "q1": float(q1),
        "median": float(median),
        "q3": float(q3),
        "min": float(values.min()),
        "max": float(values.max()),
        "mean": float(values.mean()),
        "count": int(len(values)),
    }


def moving_average(x: np.ndarray, y: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Moving average of y over x-sorted samples (the paper's Fig. 8): `len(x) - window + 1` points.

    Ties in x are broken by the original order (a stable sort), so the curve is deterministic.
    """
    order = np.argsort(x, kind="stable")
    x, y = np.asarray(x, np.float64)[order], np.asarray(y, np.float64)[order]
    window = max(1, min(window, len(x)))
    kernel = np.ones(window) / window
    return np.convolve(x, kernel, mode="valid"), np.convolve(y, kernel, mode="valid")


def default_window(count: int, window: int = 0) -> int:
    """The moving-average window: `window` if set, else a tenth of the examples (at least 1)."""
    return window if window > 0 else max(1, count // 10)


# Figures ---------------------------------------------------------------------


def needs_log_scale(errors: dict[str, np.ndarray], ratio: float = 30.0) -> bool:
    """True when one distribution's tail dwarfs another's median (then linear violins hide the bulk)."""
    medians = [np.median(v) for v in errors.values()]
    tails = [np.percentile(v, 99) for v in errors.values()]
    return min(medians) > 0 and max(tails) / min(medians) > ratio


def _violins(axis, errors: dict[str, np.ndarray], title: str, log: bool = False) -> None:
    """Violins of the errors (of log10 errors when `log`, labelled in error units)."""
    names = list(errors)
    data = [np.asarray(errors[n], np.float64) for n in names]
    if log:  # quantiles commute with the monotone log, so the lines still mark median and quartiles
        data = [np.log10(np.maximum(values, 1e-12)) for values in data]
    parts = axis.violinplot(data, showextrema=False)
    for i, body in enumerate(parts["bodies"]):
        body.set_facecolor("#bbbbbb" if names[i] == "naive" else COLORS[i % len(COLORS)])
        body.set_alpha(0.55)
    for i, values in enumerate(data, start=1):
        stats = violin_statistics(values)
        axis.hlines([stats["q1"], stats["q3"]], i - 0.15, i + 0.15, color="k", linewidth=0.8)
        axis.hlines(stats["median"], i - 0.25, i + 0.25, color="k", linewidth=1.6)
    if log:
        low, high = np.floor(min(d.min() for d in data)), np.ceil(max(d.max() for d in data))
        ticks = np.arange(low, high + 1)
        axis.set_yticks(ticks, [f"{10**t:g}" for t in ticks])
        title += " (log scale)"
    axis.set_xticks(range(1, len(names) + 1), names, rotation=30 if len(names) > 3 else 0)
    axis.set_title(title, fontsize=10)


def plot_error_violin(errors: dict[str, np.ndarray], path: str, scenario: str = "") -> None:
    """Violin plot of error distributions with median and quartiles (the paper's Fig. 7)."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(1.6 + 1.3 * len(errors), 3.6))
    count = len(next(iter(errors.values())))
    _violins(axis, errors, f"Error on {scenario or 'held-out'} examples (n={count})")
    axis.set_ylabel("squared euclidean error on q")
    save_figure(figure, path)


def plot_error_violins(panels: dict[str, dict[str, np.ndarray]], path: str) -> None:
    """One violin panel per test scenario, networks and naive side by side (the study's Fig. 7)."""
    plt = _pyplot()
    width = 1.2 + 0.9 * max(len(p) for p in panels.values())
    figure, axes = plt.subplots(1, len(panels), figsize=(width * len(panels), 3.8), squeeze=False)
    for axis, (scenario, errors) in zip(axes[0], panels.items(), strict=True):
        count = len(next(iter(errors.values())))
        _violins(axis, errors, f"test: {scenario} (n={count})", log=needs_log_scale(errors))
    axes[0][0].set_ylabel("squared euclidean error on q")
    figure.suptitle("Error per trained network (horizontal lines: median and quartiles)", fontsize=11)
    save_figure(figure, path)


def _yaw_curves(axis, curves: dict[str, tuple[np.ndarray, np.ndarray]], window: int) -> None:
    for i, (name, (yaw, errors)) in enumerate(curves.items()):
        x, y = moving_average(yaw, errors, default_window(len(yaw), window))
        style = {"color": "#888888", "linestyle": "--"} if name == "naive" else {"color": COLORS[i % 8]}
        axis.plot(x, y, label=name, **style)
    axis.set_xlabel("yaw (degrees)")


def plot_error_vs_yaw(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: str, window: int = 0) -> None:
    """Moving average of error against yaw angle (the paper's Fig. 8)."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 3.4))
    _yaw_curves(axis, curves, window)
    axis.set_ylabel("error (moving average)")
    axis.legend()
    save_figure(figure, path)


def plot_error_vs_yaw_panels(
    panels: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]], path: str, window: int = 0
) -> None:
    """One error-vs-yaw panel per test scenario (the study's Fig. 8)."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.6), squeeze=False)
    for axis, (scenario, curves) in zip(axes[0], panels.items(), strict=True):
        _yaw_curves(axis, curves, window)
        axis.set_title(f"test: {scenario}", fontsize=10)
    axes[0][0].set_ylabel("error (moving average)")
    axes[0][-1].legend(fontsize=8)
    save_figure(figure, path)


@dataclass
class SaliencyRow:
    """One row of the saliency figure.

    Attributes:
        label: the row's name (network, example).
        image: `[H, W, 3]` uint8 input.
        saliency: `[H, W]` saliency (any non-negative scale; shown normalised).
        prediction: `[h, w, 3]` uint8 rendering of the prediction (scenario none).
        truth: `[h, w, 3]` uint8 rendering of the truth (scenario none).
    """

    label: str
    image: np.ndarray
    saliency: np.ndarray
    prediction: np.ndarray
    truth: np.ndarray


def plot_saliency(rows: list[SaliencyRow | None], path: str, per_line: int = 1) -> None:
    """Input, saliency, rendering of the prediction and of the truth (the paper's Fig. 9).

    Each row is a block of 4 panels (None: left empty); `per_line` blocks sit side by side, filled
    line by line.
    """
    plt = _pyplot()
    lines = -(-len(rows) // per_line)
    # Blocks are separated by a narrow empty column that leaves room for the next block's labels.
    ratios = [1, 1, 1, 1] + [0.45, 1, 1, 1, 1] * (per_line - 1)
    figure, grid = plt.subplots(
        lines,
        len(ratios),
        figsize=(7.2 * per_line + 0.8 * (per_line - 1), 1.85 * lines + 0.4),
        squeeze=False,
        gridspec_kw={"width_ratios": ratios},
    )
    panel_columns = [c for c, ratio in enumerate(ratios) if ratio == 1]
    axes = grid[:, panel_columns]
    titles = ("input", "saliency (d q1 / d input)", "prediction (none)", "truth (none)")
    for axis in grid.ravel():
        axis.axis("off")
    for k, row in enumerate(rows):
        line, block = divmod(k, per_line)
        if row is None:  # an empty block
            continue
        saliency = np.asarray(row.saliency, np.float64)
        saliency = saliency / saliency.max() if saliency.max() > 0 else saliency
        panels = (row.image, saliency, row.prediction, row.truth)
        for c, panel in enumerate(panels):
            axis = axes[line][4 * block + c]
            axis.axis("on")
            axis.imshow(panel, cmap="gray" if c == 1 else None, vmin=0, vmax=1 if c == 1 else None)
            axis.set_xticks([])
            axis.set_yticks([])
            if line == 0:
                axis.set_title(titles[c], fontsize=8)
        axes[line][4 * block].set_ylabel(row.label, fontsize=8)
    save_figure(figure, path)


def plot_score_distributions(
    distributions: dict[str, tuple[np.ndarray, np.ndarray]], path: str, backend: str = ""
) -> None:
    """Same-vs-different identity score histograms per network (the thesis's Fig. 4.7).

    Args:
        distributions: network -> (same: each prediction vs its own reference,
            different: each prediction vs every other reference).
    """
    plt = _pyplot()
    figure, axes = plt.subplots(
        1, len(distributions), figsize=(3.4 * len(distributions), 3.0), squeeze=False, sharey=False
    )
    for axis, (name, (same, different)) in zip(axes[0], distributions.items(), strict=True):
        values = np.concatenate([same, different]) if len(same) + len(different) else np.zeros(1)
        low, high = float(values.min()), float(values.max())
        pad = max(1e-3, 0.05 * (high - low))
        bins = np.linspace(low - pad, high + pad, 31)
        if len(different):
            axis.hist(
                different,
                bins=bins,
                density=True,
                alpha=0.55,
                color=COLORS[1],
                label=f"different (mean {np.mean(different):.3f})",
            )
        if len(same):
            axis.hist(
                same,
                bins=bins,
                density=True,
                alpha=0.55,
                color=COLORS[0],
                label=f"same (mean {np.mean(same):.3f})",
            )
        axis.set_title(name, fontsize=10)
        axis.set_xlabel(f"similarity ({backend})" if backend else "similarity")
        axis.legend(fontsize=7)
    save_figure(figure, path)


def plot_identity_scores(rows: list[dict], path: str) -> None:
    """Mean identity score and corrected score with 95% CIs per network (the thesis's Fig. 6.13)."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(1.8 + 1.1 * len(rows), 3.2))
    x = np.arange(len(rows))
    for offset, key, label, color in (
        (-0.12, "score", "score", COLORS[0]),
        (0.12, "corrected_score", "corrected score", COLORS[3]),
    ):
        means = np.array([row[key]["mean"] for row in rows])
        low = np.array([row[key]["ci95_low"] for row in rows])
        high = np.array([row[key]["ci95_high"] for row in rows])
        errors = np.nan_to_num(np.stack([means - low, high - means]))
        axis.errorbar(x + offset, means, yerr=errors, fmt="o", capsize=3, color=color, label=label)
    axis.set_xticks(x, [row["network"] for row in rows])
    axis.set_ylabel("identity score (95% CI)")
    axis.legend(fontsize=8)
    save_figure(figure, path)


def plot_learning_curves(curves: dict[str, list[dict[str, list[float]]]], path: str) -> None:
    """One panel per network: training loss (training mode), training and validation loss (inference mode).

    Args:
        curves: network -> one dict per seed with lists `step`, `train_loss`,
            `train_inference_loss` and `val_loss` (`training_result.json`'s `curves`).
        path: the PNG to write.
    """
    plt = _pyplot()
    styles = (
        ("train_loss", "training (training mode)", ":"),
        ("train_inference_loss", "training (inference mode)", "-"),
        ("val_loss", "validation (inference mode)", "--"),
    )
    figure, axes = plt.subplots(1, len(curves), figsize=(3.6 * len(curves), 3.2), squeeze=False, sharey=True)
    for axis, (net, seeds) in zip(axes[0], curves.items(), strict=True):
        for seed, curve in enumerate(seeds):
            for key, label, style in styles:
                if len(curve.get(key, [])) == len(curve["step"]) and curve["step"]:
                    axis.plot(
                        curve["step"],
                        curve[key],
                        style,
                        color=f"C{seed}",
                        label=f"{label}" if seed == 0 else None,
                    )
        axis.set_title(f"trained on {net}", fontsize=10)
        axis.set_xlabel("step")
        axis.set_yscale("log")
    axes[0][0].set_ylabel("mean squared error on q")
    axes[0][-1].legend(fontsize=7, title="colour: seed", title_fontsize=7)
    save_figure(figure, path)


def plot_similarity_matrix(
    matrix: np.ndarray, rows: list[str], columns: list[str], path: str, label: str = "cosine similarity"
) -> None:
    """A heatmap of an `[N, M]` similarity matrix with each value written in its cell (NaN blank)."""
    plt = _pyplot()
    matrix = np.asarray(matrix, np.float64)
    figure, axis = plt.subplots(figsize=(1.6 + 0.75 * len(columns), 1.0 + 0.55 * len(rows)))
    image = axis.imshow(np.ma.masked_invalid(matrix), cmap="viridis")
    middle = np.nanmean(matrix) if np.isfinite(matrix).any() else 0.0
    for (r, c), value in np.ndenumerate(matrix):
        if np.isfinite(value):  # dark text on viridis' light upper half
            colour = "black" if value > middle else "white"
            axis.text(c, r, f"{value:.3f}", ha="center", va="center", fontsize=7, color=colour)
    axis.set_xticks(np.arange(len(columns)), columns, rotation=45, ha="right", fontsize=8)
    axis.set_yticks(np.arange(len(rows)), rows, fontsize=8)
    axis.set_xlabel("photo face")
    axis.set_ylabel("reconstruction")
    figure.colorbar(image, ax=axis, label=label, shrink=0.8)
    save_figure(figure, path)
