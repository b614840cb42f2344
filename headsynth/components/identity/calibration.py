"""Identity scores on dlib's own scale, and calibrated against pairs of different people.

dlib's 128-d embeddings are trained for the Euclidean distance (two faces are
one person below `DLIB_THRESHOLD` = 0.6); their cosine similarities are
compressed near 1 (random pairs of renders score ~0.9), so the thesis's
corrected score (Eq. 6.2, a 1-2% penalty) is as large as the gap between a
good reconstruction and the mean face. Two ways to read a score on a scale
where that penalty means something:

- **dlib similarity** `1 - L2 / 2`: the Euclidean distance mapped linearly
  onto [0, 1] for unit-length embeddings (L2 in [0, 2]; dlib's are close to
  unit length), 1 for identical embeddings, 0.7 at dlib's same-person
  threshold. Linear, so differences and Eq. 6.2's ratio keep their meaning,
  and it spreads the scores that the cosine (1 - L2^2 / 2 for unit vectors)
  squeezes near 1.
- **calibrated**: the fraction of different-person pairs of the test set that
  score lower (a percentile against the different-pair distribution measured
  on the test references themselves): 0.5 is a typical stranger, 1 is above
  every stranger. A penalty read on this scale says how many strangers it
  lets past.
"""

from __future__ import annotations

import numpy as np

from headsynth.components.identity.scores import cosine_similarity

# dlib's documented same-person threshold on the L2 distance of its embeddings (99.38% on LFW).
DLIB_THRESHOLD = 0.6


def pair_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`[N]` Euclidean distances of paired `[N, d]` embeddings (NaN where a row is NaN)."""
    a, b = np.atleast_2d(np.asarray(a, np.float64)), np.atleast_2d(np.asarray(b, np.float64))
    if a.shape[1] != b.shape[1]:  # one side found no face at all
        return np.full(max(len(a), len(b)), np.nan)
    return np.linalg.norm(a - b, axis=-1)


def distance_similarity(distance: np.ndarray) -> np.ndarray:
    """dlib similarity `1 - L2 / 2` of Euclidean distances (elementwise; see the module docstring)."""
    return 1.0 - np.asarray(distance, np.float64) / 2.0


def identity_groups(q: np.ndarray) -> np.ndarray:
    """`[N]` group ids: examples rendered from the same q (one identity in several renders) share one."""
    rows = np.ascontiguousarray(np.asarray(q, np.float32))
    _, groups = np.unique(
        rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))), return_inverse=True
    )
    return groups.ravel()


def different_pairs(embeddings: np.ndarray, groups: np.ndarray, measure: str = "dlib") -> np.ndarray:
    """Scores of every pair of references of different identities (each pair once; NaN rows left out).

    Args:
        embeddings: `[N, d]` reference embeddings (NaN rows: no face found).
        groups: `[N]` identity of each reference (`identity_groups`).
        measure: "dlib" (`1 - L2 / 2`) or "cosine".

    Returns:
        `[P]` scores of the P pairs (i < j) of different identities whose faces were both found.
    """
    embeddings = np.asarray(embeddings, np.float64)
    found = np.all(np.isfinite(embeddings), axis=1)
    e, g = embeddings[found], np.asarray(groups)[found]
    i, j = np.triu_indices(len(e), k=1)
    keep = g[i] != g[j]
    i, j = i[keep], j[keep]
    return pair_scores(e[i], e[j], measure)


def pair_scores(a: np.ndarray, b: np.ndarray, measure: str) -> np.ndarray:
    """`[N]` scores of paired `[N, d]` embeddings by `measure` ("dlib": `1 - L2 / 2`, or "cosine")."""
    if measure == "dlib":
        return distance_similarity(pair_distances(a, b))
    if measure != "cosine":
        raise ValueError(f"`measure` must be 'dlib' or 'cosine'. Received: {measure!r}")
    a, b = np.atleast_2d(np.asarray(a, np.float64)), np.atleast_2d(np.asarray(b, np.float64))
    if a.shape[1] != b.shape[1]:
        return np.full(max(len(a), len(b)), np.nan)
    return cosine_similarity(a, b)


def calibrate(scores: np.ndarray, different: np.ndarray) -> np.ndarray:
    """Each score as the fraction of different-identity pair scores strictly below it (ties count half).

    Args:
        scores: any shape; NaN stays NaN.
        different: `[P]` scores of different-identity pairs (`different_pairs`).

    Returns:
        Scores in [0, 1] of the same shape; all NaN when there is no different pair.
    """
    scores = np.asarray(scores, np.float64)
    reference = np.sort(np.asarray(different, np.float64)[np.isfinite(different)])
    if len(reference) == 0:
        return np.full(scores.shape, np.nan)
    below = np.searchsorted(reference, scores, side="left")
    not_above = np.searchsorted(reference, scores, side="right")
    fraction = (below + not_above) / (2.0 * len(reference))
    return np.where(np.isfinite(scores), fraction, np.nan)


def distribution_summary(scores: np.ndarray) -> dict:
    """Count, mean and quartiles of finite scores (NaN when there are none)."""
    scores = np.asarray(scores, np.float64)
    scores = scores[np.isfinite(scores)]
    if len(scores) == 0:
        return {
            "count": 0,
            "mean": float("nan"),
            "q25": float("nan"),
            "median": float("nan"),
            "q75": float("nan"),
        }
    q25, median, q75 = np.percentile(scores, [25, 50, 75])
    return {
        "count": int(len(scores)),
        "mean": float(scores.mean()),
        "q25": float(q25),
        "median": float(median),
        "q75": float(q75),
    }
