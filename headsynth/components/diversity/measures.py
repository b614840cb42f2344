"""Diversity measures of a set of parameter vectors (the thesis's section 6.3, Tables 6.3-6.5).

    kmeans_distortions(q)          Table 6.4: mean distance to the nearest of k k-means centres,
                                   k = 2 ... 200, after scaling every parameter to unit variance;
                                   spread-out data loses distortion slowly, clustered data fast
    distance_quartiles(q)          Table 6.5: quartiles of the pairwise cosine distance
                                   (1 - cos) and euclidean (L2) distance
    ks_statistics(q, reference)    Table 6.3: per-parameter two-sample Kolmogorov-Smirnov statistic
                                   against reference data, its sum over the parameters and p-values
    pca_basis(reference)           the reference's principal axes, to plot other sets in its space

Distortion is scipy's k-means "distortion", the mean euclidean (not squared)
distance of each vector to its centre; for m unit-variance parameters it
starts near sqrt(m) (the thesis: 9.95 of 10 for 100 parameters at k = 2).
Vectors are compared in the units they are given in; the studies give q in
units of sigma (p = sigma * q), so L2 distances are comparable across samplers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from headsynth.core.errors import ParameterError

DISTORTION_CLUSTERS = (2, 10, 25, 100, 200)


def _check(vectors, name: str = "vectors", min_rows: int = 2) -> np.ndarray:
    vectors = np.asarray(vectors, np.float64)
    if vectors.ndim != 2 or len(vectors) < min_rows:
        raise ParameterError(f"{name} must be [n >= {min_rows}, m]. Received shape {list(vectors.shape)}.")
    if not np.all(np.isfinite(vectors)):
        raise ParameterError(f"{name} has NaN or infinite values.")
    return vectors


def _subsample(vectors: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    if max_rows and len(vectors) > max_rows:
        rows = np.sort(np.random.default_rng(seed).choice(len(vectors), max_rows, replace=False))
        return vectors[rows]
    return vectors


def unit_variance(vectors: np.ndarray) -> np.ndarray:
    """Each column divided by its standard deviation (scipy's `whiten`; constant columns unchanged)."""
    std = vectors.std(axis=0)
    return vectors / np.where(std > 0, std, 1.0)


def kmeans_distortions(
    vectors, clusters=DISTORTION_CLUSTERS, seed: int = 0, max_rows: int = 5000, max_iter: int = 100
) -> dict[int, float]:
    """Mean distance to the nearest k-means centre for each k (unit-variance scaled data).

    Args:
        vectors: `[n, m]`.
        clusters: the k values (the thesis: 2, 10, 25, 100, 200).
        seed: k-means initialisation (k-means++) and subsampling seed.
        max_rows: at most this many vectors are clustered (a seeded subsample).
        max_iter: Lloyd iterations at most (one initialisation per k).

    Returns:
        k -> distortion; NaN where k >= the number of vectors.
    """
    # scikit-learn loads only for this measure: the module stays numpy-only at import.
    from sklearn.cluster import KMeans

    x = unit_variance(_subsample(_check(vectors), max_rows, seed))
    distortions = {}
    for k in clusters:
        k = int(k)
        if k >= len(x):
            distortions[k] = float("nan")
            continue
        model = KMeans(n_clusters=k, n_init=1, max_iter=max_iter, random_state=seed).fit(x)
        centres = model.cluster_centers_[model.labels_]
        distortions[k] = float(np.mean(np.linalg.norm(x - centres, axis=1)))
    return distortions


@dataclass(frozen=True)
class Quartiles:
    """First, second (median) and third quartile."""

    q1: float
    q2: float
    q3: float


def distance_quartiles(vectors, seed: int = 0, max_rows: int = 2000) -> dict[str, Quartiles]:
    """Quartiles of the pairwise cosine distance and L2 distance (over a seeded subsample of rows).

    Returns:
        {"cosine": Quartiles, "l2": Quartiles}; zero vectors are left out of the cosine distances.
    """
    # scipy loads only for this measure: the module stays numpy-only at import.
    from scipy.spatial.distance import pdist

    x = _subsample(_check(vectors), max_rows, seed)
    l2 = pdist(x, "euclidean")
    nonzero = x[np.linalg.norm(x, axis=1) > 0]
    cosine = pdist(nonzero, "cosine") if len(nonzero) >= 2 else np.array([np.nan])

    def quartiles(values: np.ndarray) -> Quartiles:
        q = np.nanpercentile(values, [25, 50, 75]) if np.any(np.isfinite(values)) else [np.nan] * 3
        return Quartiles(*(float(v) for v in q))

    return {"cosine": quartiles(cosine), "l2": quartiles(l2)}


@dataclass(frozen=True)
class KsResult:
    """Two-sample KS test of every parameter against reference data.

    Attributes:
        statistics: `[m]` KS statistics (sup |F_sample - F_reference|).
        p_values: `[m]` their p-values.
        total: the sum of the statistics (the thesis's Table 6.3 "sum K-S").
        mean_p: the mean p-value (the thesis's Table 6.3 "p-value").
        rejected: parameters whose p-value is below 0.05.
    """

    statistics: np.ndarray
    p_values: np.ndarray
    total: float
    mean_p: float
    rejected: int

    def to_dict(self) -> dict:
        return {
            "total": self.total,
            "mean_p": self.mean_p,
            "rejected": self.rejected,
            "statistics": [float(s) for s in self.statistics],
            "p_values": [float(p) for p in self.p_values],
        }


def ks_statistics(vectors, reference) -> KsResult:
    """Per-parameter two-sample KS test of `vectors` against `reference` (same width).

    Raises:
        ParameterError: for different widths or unusable arrays.
    """
    # scipy.stats takes about a second to import; only the KS test needs it.
    from scipy.stats import ks_2samp

    sample = _check(vectors, "the sample")
    reference = _check(reference, "the reference")
    if sample.shape[1] != reference.shape[1]:
        raise ParameterError(
            f"The sample has width {sample.shape[1]} but the reference {reference.shape[1]}; KS compares "
            "parameter by parameter."
        )
    results = [ks_2samp(sample[:, j], reference[:, j]) for j in range(sample.shape[1])]
    statistics = np.array([r.statistic for r in results], np.float64)
    p_values = np.array([r.pvalue for r in results], np.float64)
    return KsResult(
        statistics, p_values, float(statistics.sum()), float(p_values.mean()), int((p_values < 0.05).sum())
    )


@dataclass(frozen=True)
class PcaBasis:
    """Principal axes of reference data: `transform(x)` = (x - mean) @ axes.T.

    Attributes:
        mean: `[m]`.
        axes: `[k, m]` unit principal directions, by decreasing variance.
        explained: `[k]` fraction of the variance each explains.
    """

    mean: np.ndarray
    axes: np.ndarray
    explained: np.ndarray

    def transform(self, vectors) -> np.ndarray:
        return (np.asarray(vectors, np.float64) - self.mean) @ self.axes.T


def pca_basis(reference, components: int = 5) -> PcaBasis:
    """The first `components` principal axes of the reference (signs fixed for reproducibility)."""
    x = _check(reference, "the reference")
    mean = x.mean(axis=0)
    _, singular, vt = np.linalg.svd(x - mean, full_matrices=False)
    k = min(components, vt.shape[0])
    axes = vt[:k] * np.sign(vt[:k, np.argmax(np.abs(vt[:k]), axis=1)].diagonal())[:, None]
    variance = singular**2
    return PcaBasis(mean, axes, variance[:k] / variance.sum())


def age_groups(ages, edges=(30.0, 45.0, 60.0)) -> np.ndarray:
    """Age group names of `[n]` ages (the thesis's Fig. 6.9 uses 4 groups)."""
    ages = np.asarray(ages, np.float64)
    bounds = [None, *edges, None]
    names = []
    for low, high in zip(bounds[:-1], bounds[1:], strict=True):
        if low is None:
            names.append(f"< {high:g}")
        elif high is None:
            names.append(f">= {low:g}")
        else:
            names.append(f"{low:g}-{high:g}")
    return np.array(names, dtype=object)[np.searchsorted(np.asarray(edges), ages, side="right")]


def sex_groups(sexes) -> np.ndarray:
    """ "female"/"male" for 0/1 labels."""
    return np.where(np.asarray(sexes, np.float64) >= 0.5, "male", "female").astype(object)


@dataclass
class DiversitySummary:
    """Every measure of one set of vectors (one row in each of Tables 6.3-6.5).

    Attributes:
        count: vectors measured.
        mean_abs: mean |q| over all entries (the identity score's "sigma" at scale 1).
        distortions: k -> distortion.
        cosine, l2: distance quartiles.
        ks: the KS test against the reference, if one was given.
    """

    count: int
    mean_abs: float
    distortions: dict[int, float]
    cosine: Quartiles
    l2: Quartiles
    ks: KsResult | None = None

    def to_dict(self) -> dict:
        return {
            "count": self.count,
            "mean_abs": self.mean_abs,
            "distortions": {str(k): v for k, v in self.distortions.items()},
            "cosine": asdict(self.cosine),
            "l2": asdict(self.l2),
            "ks": self.ks.to_dict() if self.ks is not None else None,
        }


def diversity_summary(
    vectors, reference=None, clusters=DISTORTION_CLUSTERS, seed: int = 0, max_rows: int = 5000
) -> DiversitySummary:
    """All measures of one set (KS only with a reference)."""
    x = _check(vectors)
    distances = distance_quartiles(x, seed, min(max_rows, 2000))
    return DiversitySummary(
        count=len(x),
        mean_abs=float(np.mean(np.abs(x))),
        distortions=kmeans_distortions(x, clusters, seed, max_rows),
        cosine=distances["cosine"],
        l2=distances["l2"],
        ks=ks_statistics(x, reference) if reference is not None else None,
    )
