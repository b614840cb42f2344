"""The two-way bootstrap over test images and seeds that both studies' CIs and findings use.

Every CI is a two-way bootstrap over seeds and images: each resample draws
the test images with replacement (the same images for every network, since
all are evaluated on the same test set) and the seeds with replacement
(seed k of one network paired with seed k of another: the pairs are
independent, so the resampled difference has the right spread, and a cell's
CI does not depend on which other cells were computed before it). A
comparison "a below b" holds when the CI of the difference lies entirely
below 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Bootstrap:
    """Shared resampling of the test images, so that every mean is paired over the same images.

    Attributes:
        image_weights: `[B, N]` how often each test image is drawn in each resample.
        seed: the root seed of the seed resamples.
    """

    image_weights: np.ndarray
    seed: int

    @classmethod
    def of(cls, num_images: int, resamples: int, seed: int = 0) -> Bootstrap:
        rng = np.random.default_rng([seed, 0])
        weights = rng.multinomial(num_images, np.full(num_images, 1.0 / num_images), size=resamples)
        return cls(weights.astype(np.float64), seed)

    def seed_weights(self, seeds: int) -> np.ndarray:
        """`[B, S]` how often each of S seeds is drawn in each resample (the same for every S-seed network)."""
        rng = np.random.default_rng([self.seed, 1, seeds])
        return rng.multinomial(seeds, np.full(seeds, 1.0 / seeds), size=len(self.image_weights))

    def means(self, values: np.ndarray, select: np.ndarray | None = None) -> np.ndarray:
        """`[B]` resampled means of `[S, N]` values (S seeds; S = 1 for naive), over the `select`ed images.

        Args:
            values: `[S, N]` per-seed, per-image values.
            select: optional `[N]` bool mask of the images that count (a yaw window).
        """
        values = np.atleast_2d(np.asarray(values, np.float64))
        weights = self.image_weights if select is None else self.image_weights * select
        seeds = values.shape[0]
        seed_weights = self.seed_weights(seeds)
        per_seed = weights @ values.T  # [B, S]: each seed's weighted image sum
        total = np.maximum(weights.sum(axis=1), 1e-12)
        return (per_seed * seed_weights).sum(axis=1) / (seeds * total)


def mean_with_ci(values: np.ndarray, bootstrap: Bootstrap, select: np.ndarray | None = None) -> dict:
    """Mean over seeds and (selected) images with its 95% two-way bootstrap CI."""
    values = np.atleast_2d(np.asarray(values, np.float64))
    chosen = values if select is None else values[:, select]
    resampled = bootstrap.means(values, select)
    low, high = np.percentile(resampled, [2.5, 97.5])
    return {
        "mean": float(chosen.mean()),
        "median": float(np.median(chosen)),
        "ci95_low": float(low),
        "ci95_high": float(high),
        "count": int(chosen.shape[1]),
        "seeds": int(values.shape[0]),
    }


def difference(
    a: np.ndarray,
    b: np.ndarray,
    bootstrap: Bootstrap,
    select_a: np.ndarray | None = None,
    select_b: np.ndarray | None = None,
) -> dict:
    """Mean of `a` minus mean of `b` (`[S, N]` each, or `[1, N]`) with its 95% CI."""
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    point = (a if select_a is None else a[:, select_a]).mean() - (
        b if select_b is None else b[:, select_b]
    ).mean()
    resampled = bootstrap.means(a, select_a) - bootstrap.means(b, select_b)
    low, high = np.percentile(resampled, [2.5, 97.5])
    return {"difference": float(point), "ci95": [float(low), float(high)]}


def below(comparison: dict) -> bool:
    """Whether the difference's whole CI lies below 0."""
    return comparison["ci95"][1] < 0


def finding(
    figure: str, claim: str, holds: bool, comparisons: list[dict], values: dict | None = None
) -> dict:
    """One entry of study.json's `findings`."""
    return {
        "figure": figure,
        "claim": claim,
        "holds": bool(holds),
        "comparisons": comparisons,
        **({"values": values} if values else {}),
    }
