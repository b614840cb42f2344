"""Figures of diversity and of the generative models (matplotlib, Agg, PNG).

- `plot_pca_concepts`: the first 5 principal components of a set, coloured by
  group (sex: the thesis's Fig. 6.8; age groups: Fig. 6.9). Above the
  diagonal up to 1000 random points; below it each group's mean; on it each
  group's histogram.
- `plot_pca_projection`: reference data in its first 2 principal components
  and other sets transformed into the same space, coloured by group (Fig. 6.10).
- `plot_gmm_pca`: the data and samples of every mixture in the data's first
  2 principal components (Fig. 5.6).
- `plot_aic_bic`: AIC and BIC against the number of components (Table 5.4).
- `plot_distortions`: distortion against the number of clusters (Fig. 6.6).
"""

from __future__ import annotations

import numpy as np

from headsynth.components.diversity.measures import PcaBasis, pca_basis
from headsynth.report.figures import COLORS, _pyplot, save_figure


def _group_colors(groups: np.ndarray) -> dict[str, str]:
    return {name: COLORS[i % len(COLORS)] for i, name in enumerate(sorted(set(groups.tolist())))}


def plot_pca_concepts(
    vectors,
    groups,
    path: str,
    title: str = "",
    components: int = 5,
    basis: PcaBasis | None = None,
    max_points: int = 1000,
    seed: int = 0,
) -> str:
    """Figs. 6.8/6.9: pairwise plots of the first principal components, by group. Returns `path`."""
    plt = _pyplot()
    vectors = np.asarray(vectors, np.float64)
    groups = np.asarray(groups, dtype=object)
    basis = basis or pca_basis(vectors, components)
    scores = basis.transform(vectors)
    k = scores.shape[1]
    colors = _group_colors(groups)
    rng = np.random.default_rng(seed)
    shown = rng.choice(len(scores), min(max_points, len(scores)), replace=False)
    figure, axes = plt.subplots(k, k, figsize=(2.2 * k, 2.2 * k), squeeze=False)
    for i in range(k):
        for j in range(k):
            ax = axes[i, j]
            ax.tick_params(labelsize=6)
            if i == j:
                for name, color in colors.items():
                    ax.hist(scores[groups == name, i], bins=25, color=color, alpha=0.5, density=True)
            elif i < j:
                ax.scatter(
                    scores[shown, j], scores[shown, i], s=3, c=[colors[g] for g in groups[shown]], alpha=0.6
                )
            else:
                for name, color in colors.items():
                    members = scores[groups == name]
                    if len(members):
                        ax.scatter(members[:, j].mean(), members[:, i].mean(), s=40, c=color, marker="D")
            if i == k - 1:
                ax.set_xlabel(f"PC{j + 1} ({100 * basis.explained[j]:.1f}%)", fontsize=7)
            if j == 0:
                ax.set_ylabel(f"PC{i + 1}", fontsize=7)
    handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=n) for n, c in colors.items()]
    figure.tight_layout(rect=(0, 0, 1, 0.95))
    figure.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.975),
        ncol=len(handles),
        fontsize=8,
        frameon=False,
    )
    if title:
        figure.suptitle(title, y=0.995, fontsize=10)
    save_figure(figure, path)
    return path


def plot_pca_projection(
    reference,
    reference_groups,
    others: dict[str, tuple[np.ndarray, np.ndarray | None]],
    path: str,
    reference_name: str = "realistic data",
    max_points: int = 1000,
    seed: int = 0,
) -> str:
    """Fig. 6.10: the reference in its first 2 PCs, and each other set in the same space.

    Args:
        reference: `[n, m]` vectors whose PCA defines the space.
        reference_groups: `[n]` group names (e.g. sex), or None.
        others: name -> (vectors, groups or None).
    """
    plt = _pyplot()
    basis = pca_basis(reference, 2)
    panels = [
        (reference_name, np.asarray(reference), reference_groups),
        *((n, v, g) for n, (v, g) in others.items()),
    ]
    all_groups = [np.asarray(g, dtype=object) for _, _, g in panels if g is not None]
    colors = _group_colors(np.concatenate(all_groups)) if all_groups else {}
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3.6 * rows), squeeze=False)
    reference_scores = basis.transform(reference)
    low = np.percentile(reference_scores, 0.5, axis=0) - 1.0
    high = np.percentile(reference_scores, 99.5, axis=0) + 1.0
    rng = np.random.default_rng(seed)
    for ax, (name, vectors, groups) in zip(axes.flat, panels, strict=False):
        scores = basis.transform(vectors)
        shown = rng.choice(len(scores), min(max_points, len(scores)), replace=False)
        if groups is None:
            ax.scatter(scores[shown, 0], scores[shown, 1], s=3, c="#555555", alpha=0.5)
        else:
            groups = np.asarray(groups, dtype=object)
            for group, color in colors.items():
                members = shown[groups[shown] == group]
                ax.scatter(scores[members, 0], scores[members, 1], s=3, c=color, alpha=0.5, label=group)
            ax.legend(fontsize=7, markerscale=3, loc="upper right")
        ax.set_title(name, fontsize=9)
        ax.set_xlim(low[0], high[0])
        ax.set_ylim(low[1], high[1])
        ax.set_xlabel(f"PC1 ({100 * basis.explained[0]:.1f}%)", fontsize=8)
        ax.set_ylabel(f"PC2 ({100 * basis.explained[1]:.1f}%)", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    figure.tight_layout()
    save_figure(figure, path)
    return path


def plot_gmm_pca(data, samples: dict[str, np.ndarray], path: str) -> str:
    """Fig. 5.6: the data and each mixture's samples in the data's first 2 principal components."""
    return plot_pca_projection(
        data, None, {name: (q, None) for name, q in samples.items()}, path, "fitted data"
    )


def plot_aic_bic(candidates: list[dict], path: str) -> str:
    """Table 5.4 as a figure: AIC and BIC against the number of components, per covariance type."""
    plt = _pyplot()
    figure, ax = plt.subplots(figsize=(5.5, 3.5))
    for i, covariance_type in enumerate(sorted({c["covariance_type"] for c in candidates})):
        rows = sorted(
            (c for c in candidates if c["covariance_type"] == covariance_type), key=lambda c: c["components"]
        )
        k = [c["components"] for c in rows]
        ax.plot(
            k,
            [c["aic"] for c in rows],
            "o-",
            color=COLORS[2 * i % len(COLORS)],
            label=f"AIC ({covariance_type})",
        )
        ax.plot(
            k,
            [c["bic"] for c in rows],
            "s--",
            color=COLORS[(2 * i + 1) % len(COLORS)],
            label=f"BIC ({covariance_type})",
        )
    ax.set_xscale("log")
    ax.set_xlabel("components")
    ax.set_ylabel("information criterion (lower is better)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    save_figure(figure, path)
    return path


def plot_distortions(curves: dict[str, dict[int, float]], path: str) -> str:
    """Fig. 6.6: distortion against the number of k-means clusters, one line per set."""
    plt = _pyplot()
    figure, ax = plt.subplots(figsize=(6.5, 4))
    for i, (name, curve) in enumerate(curves.items()):
        k = sorted(int(c) for c in curve)
        ax.plot(
            k,
            [curve[c] for c in k],
            marker="o",
            ms=3,
            color=COLORS[i % len(COLORS)],
            label=name,
            ls="-" if i < len(COLORS) else "--",
        )
    ax.set_xscale("log")
    ax.set_xlabel("clusters k")
    ax.set_ylabel("distortion (mean distance to centre, unit variance)")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    save_figure(figure, path)
    return path
