"""Diversity of several sets of parameter vectors, as the thesis's Tables 6.3-6.5 and Figs. 6.6-6.10.

    result = measure_sets({"naive uniform 4": q1, "GMM 8": q2}, reference=realistic.q,
                          out_dir="diversity/", labels={"realistic": {"age": ..., "sex": ...}})
    print(text_tables(result["summaries"]))

Writes `diversity.json` (every number) and the figures into `out_dir`.
"""

from __future__ import annotations

import json
import os

import numpy as np

from headsynth.components.diversity.measures import (
    DISTORTION_CLUSTERS,
    DiversitySummary,
    PcaBasis,
    age_groups,
    diversity_summary,
    pca_basis,
    sex_groups,
)
from headsynth.components.diversity.plots import (
    plot_distortions,
    plot_pca_concepts,
    plot_pca_projection,
)
from headsynth.core.io_utils import write_text_atomic

CAPTIONS = {
    "ks": (
        "Sum over the parameters of the two-sample Kolmogorov-Smirnov statistic against the realistic "
        "vectors, the mean p-value, and how many parameters differ at p < 0.05 (the thesis's Table 6.3). "
        "Near 0: the set reproduces every parameter's distribution."
    ),
    "distortion": (
        "k-means distortion (mean euclidean distance to the nearest of k centres, every parameter scaled "
        "to unit variance) for k clusters (the thesis's Table 6.4). A slow decrease with k: spread-out "
        "data; a fast one: clustered data."
    ),
    "distances": (
        "Quartiles of the pairwise cosine distance (1 - cos) and euclidean distance, in units of sigma "
        "(the thesis's Table 6.5)."
    ),
}


def _fmt(value: float, digits: int = 2) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def diversity_tables(summaries: dict[str, DiversitySummary]) -> dict[str, tuple[list[str], list[list[str]]]]:
    """The three tables as (header, rows) of strings: "ks", "distortion", "distances"."""
    clusters = sorted({k for s in summaries.values() for k in s.distortions})
    ks_rows = [
        [name, _fmt(s.ks.total, 3), _fmt(s.ks.mean_p, 3), f"{s.ks.rejected} of {len(s.ks.statistics)}"]
        for name, s in summaries.items()
        if s.ks is not None
    ]
    distortion_rows = [
        [name, *(_fmt(s.distortions.get(k, float("nan"))) for k in clusters)] for name, s in summaries.items()
    ]
    distance_rows = [
        [
            name,
            *(_fmt(v) for v in (s.cosine.q1, s.cosine.q2, s.cosine.q3, s.l2.q1, s.l2.q2, s.l2.q3)),
            _fmt(s.mean_abs),
        ]
        for name, s in summaries.items()
    ]
    return {
        "ks": (["set", "sum KS", "mean p-value", "p < 0.05"], ks_rows),
        "distortion": (["set", *(f"k={k}" for k in clusters)], distortion_rows),
        "distances": (
            ["set", "cos Q1", "cos Q2", "cos Q3", "L2 Q1", "L2 Q2", "L2 Q3", "mean |q|"],
            distance_rows,
        ),
    }


def format_table(header: list[str], rows: list[list[str]]) -> str:
    """Aligned plain text."""
    table = [header, *rows]
    widths = [max(len(str(row[c])) for row in table) for c in range(len(header))]
    return "\n".join(
        "  " + "  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)) for row in table
    )


def text_tables(summaries: dict[str, DiversitySummary]) -> str:
    """All three tables as text with their titles."""
    titles = {
        "ks": "KS against realistic vectors (Table 6.3)",
        "distortion": "k-means distortion (Table 6.4)",
        "distances": "Distance quartiles (Table 6.5)",
    }
    return "\n\n".join(
        f"{titles[key]}\n{format_table(*table)}"
        for key, table in diversity_tables(summaries).items()
        if table[1]
    )


def add_diversity_section(
    report,
    summaries: dict[str, DiversitySummary],
    figures: dict[str, str],
    heading: str = "Diversity of the training sets",
) -> None:
    """Appends the tables and figures (path -> caption) to an `HtmlReport`."""
    report.heading(heading)
    for key, (header, rows) in diversity_tables(summaries).items():
        if rows:
            report.paragraph(CAPTIONS[key])
            report.table(header, rows)
    for path, caption in figures.items():
        report.image(path, caption)


def measure_sets(
    sets: dict[str, np.ndarray],
    reference: np.ndarray | None,
    out_dir: str,
    labels: dict[str, dict[str, np.ndarray]] | None = None,
    reference_name: str = "realistic",
    clusters=DISTORTION_CLUSTERS,
    seed: int = 0,
    max_rows: int = 5000,
) -> dict:
    """Measures every set, writes `diversity.json` and the figures; returns summaries and figures.

    Args:
        sets: name -> `[n, m]` vectors (sigma units), in table order. The
            reference, if it should have a row, must be one of them.
        reference: the realistic vectors KS compares with and whose PCA the
            projections use (None: no KS, no projection figure).
        out_dir: where to write.
        labels: name -> {"age": [n], "sex": [n]} for sets with labels (coloured PCA figures).
        reference_name: the key of `sets`/`labels` holding the reference (for the concept figures).
        clusters: k values of the distortion table.

    Returns:
        {"summaries": name -> DiversitySummary, "figures": path -> caption, "json": path}.
    """
    os.makedirs(out_dir, exist_ok=True)
    labels = labels or {}
    summaries = {
        name: diversity_summary(vectors, reference, clusters, seed, max_rows)
        for name, vectors in sets.items()
    }
    figures: dict[str, str] = {}
    path = plot_distortions(
        {name: s.distortions for name, s in summaries.items()}, os.path.join(out_dir, "distortions.png")
    )
    figures[path] = "Distortion against the number of k-means clusters for every set (the thesis's Fig. 6.6)."
    if reference is not None and len(reference) > 5:
        figures.update(plot_reference_pca(sets, reference, out_dir, labels, reference_name, seed))
    json_path = os.path.join(out_dir, "diversity.json")
    write_text_atomic(
        json_path,
        json.dumps(
            {
                "sets": {name: s.to_dict() for name, s in summaries.items()},
                "figures": {os.path.basename(p): c for p, c in figures.items()},
            },
            indent=2,
        ),
    )
    return {"summaries": summaries, "figures": figures, "json": json_path}


def plot_reference_pca(
    sets: dict[str, np.ndarray],
    reference: np.ndarray,
    out_dir: str,
    labels: dict[str, dict[str, np.ndarray]],
    reference_name: str,
    seed: int,
) -> dict[str, str]:
    """The reference's concept figures (by sex, by age) and every set projected into its PCA.

    Returns:
        figure path -> caption.
    """
    reference_labels = labels.get(reference_name, {})
    basis = pca_basis(reference, min(5, np.asarray(reference).shape[1]))
    figures = plot_concepts(reference, reference_labels, out_dir, reference_name, basis, seed)
    others = {
        name: (vectors, sex_groups(labels[name]["sex"]) if "sex" in labels.get(name, {}) else None)
        for name, vectors in sets.items()
        if name != reference_name
    }
    path = plot_pca_projection(
        reference,
        sex_groups(reference_labels["sex"]) if "sex" in reference_labels else None,
        others,
        os.path.join(out_dir, "pca_projection.png"),
        reference_name,
        seed=seed,
    )
    figures[path] = (
        f"The {reference_name} vectors in their first 2 principal components and every other set transformed "
        "into the same space, by sex where the set has labels (the thesis's Fig. 6.10)."
    )
    return figures


def plot_concepts(
    reference: np.ndarray,
    reference_labels: dict[str, np.ndarray],
    out_dir: str,
    reference_name: str,
    basis: PcaBasis,
    seed: int,
) -> dict[str, str]:
    """pca_sex.png and pca_age.png for the labels the reference has; returns figure path -> caption."""
    figures = {}
    if "sex" in reference_labels:
        path = plot_pca_concepts(
            reference,
            sex_groups(reference_labels["sex"]),
            os.path.join(out_dir, "pca_sex.png"),
            f"{reference_name}: first principal components by sex",
            basis=basis,
            seed=seed,
        )
        figures[path] = (
            f"The first {len(basis.explained)} principal components of the {reference_name} vectors by sex: "
            "above the diagonal random points, below it the group means, on it histograms "
            "(the thesis's Fig. 6.8)."
        )
    if "age" in reference_labels:
        path = plot_pca_concepts(
            reference,
            age_groups(reference_labels["age"]),
            os.path.join(out_dir, "pca_age.png"),
            f"{reference_name}: first principal components by age group",
            basis=basis,
            seed=seed,
        )
        figures[path] = "The same for 4 age groups (the thesis's Fig. 6.9)."
    return figures
