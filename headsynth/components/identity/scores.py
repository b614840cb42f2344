"""The identity score, the thesis's corrected score, ranks and confidence intervals.

Identity score: the cosine similarity between the face embedding of an input
(or reference) image and that of a rendering of the network's prediction,
each face found by mediapipe (see `detection.py`) and embedded by a
face-recognition backend (see `embedding.py`).

Corrected score (the thesis's Eq. 6.2): heads far from the mean (large
parameters) look exaggerated yet score higher, so a score s is penalised when
the prediction's spread sigma (here the mean |p_j| / sigma_j over the
parameters, i.e. `scale * mean |q_j|`) exceeds 1:

    f(sigma, s, n) = s                     if sigma < 1
                   = s / sigma ** (1 / n)  otherwise     (the thesis: n = 30; 10..40 sensible)

Ranks (the thesis's Table 6.6): for every image the compared networks are
ranked by score (1 = best, ties share the mean rank) and each network's ranks
are averaged over the images every network could be scored on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from headsynth.components.identity.detection import FaceBox, FaceDetector, FaceNotFound
from headsynth.components.identity.embedding import get_backend


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of `[..., d]` embeddings (broadcasting)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    norm = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return np.sum(a * b, axis=-1) / np.maximum(norm, 1e-12)


def similarity_matrix(references: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """`[N, M]` cosine similarities of N reference and M candidate embeddings (NaN rows stay NaN)."""
    refs = np.atleast_2d(np.asarray(references, np.float64))
    cands = np.atleast_2d(np.asarray(candidates, np.float64))
    if refs.shape[1] != cands.shape[1]:  # one side found no face at all
        return np.full((len(refs), len(cands)), np.nan)
    refs = refs / np.maximum(np.linalg.norm(refs, axis=1, keepdims=True), 1e-12)
    cands = cands / np.maximum(np.linalg.norm(cands, axis=1, keepdims=True), 1e-12)
    return refs @ cands.T


def instance_sigma(q: np.ndarray, scale: float = 1.6) -> np.ndarray:
    """Per prediction, the mean |p_j| / sigma_j = scale * mean_j |q_j| (p = scale * sigma * q)."""
    return scale * np.mean(np.abs(np.asarray(q, np.float64)), axis=-1)


def corrected_score(score: np.ndarray, sigma: np.ndarray, n: float = 30.0) -> np.ndarray:
    """The thesis's Eq. 6.2: s if sigma < 1, else s / sigma ** (1/n) (elementwise)."""
    if n <= 0:
        raise ValueError(f"`n` must be positive. Received: n={n}")
    score = np.asarray(score, np.float64)
    sigma = np.asarray(sigma, np.float64)
    penalty = np.where(sigma < 1.0, 1.0, np.power(np.maximum(sigma, 1.0), 1.0 / n))
    return score / penalty


def mean_ranks(scores: np.ndarray) -> tuple[np.ndarray, int]:
    """Mean rank of each column of `[images, networks]` scores (1 = best; ties averaged).

    Rows with a NaN (an image some network could not be scored on) are left out.

    Returns:
        (`[networks]` mean ranks, number of rows used).
    """
    # scipy.stats takes about a second to import; only the ranks need it.
    from scipy.stats import rankdata

    scores = np.asarray(scores, np.float64)
    if scores.ndim != 2:
        raise ValueError(f"`scores` must be [images, networks]. Received shape {list(scores.shape)}")
    complete = scores[np.all(np.isfinite(scores), axis=1)]
    if len(complete) == 0:
        return np.full(scores.shape[1], np.nan), 0
    ranks = rankdata(-complete, axis=1, method="average")
    return ranks.mean(axis=0), len(complete)


@dataclass(frozen=True)
class MeanCI:
    """A mean with its normal-approximation 95% confidence interval."""

    mean: float
    ci95_low: float
    ci95_high: float
    count: int


def mean_ci(values: np.ndarray) -> MeanCI:
    """Mean and 95% CI (mean +- 1.96 s / sqrt(n)) of the finite values."""
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return MeanCI(float("nan"), float("nan"), float("nan"), 0)
    mean = float(values.mean())
    half = 1.96 * values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else float("nan")
    return MeanCI(mean, mean - half, mean + half, len(values))


def compare_networks(
    scores: dict[str, np.ndarray], sigmas: dict[str, np.ndarray], n: float = 30.0
) -> list[dict]:
    """The thesis's Table 6.6 for the compared networks.

    Args:
        scores: network name -> `[images]` identity scores (NaN where unscored),
            the same images in the same order for every network.
        sigmas: network name -> `[images]` instance sigma of its predictions.
        n: the corrected score's n.

    Returns:
        One row per network: name, score and corrected score (mean with 95% CI),
        their mean ranks, and counts.
    """
    names = list(scores)
    raw = np.stack([np.asarray(scores[name], np.float64) for name in names], axis=1)
    corrected = np.stack([corrected_score(scores[name], sigmas[name], n) for name in names], axis=1)
    raw_ranks, ranked = mean_ranks(raw)
    corrected_ranks, _ = mean_ranks(corrected)
    rows = []
    for i, name in enumerate(names):
        rows.append(
            {
                "network": name,
                "score": asdict(mean_ci(raw[:, i])),
                "corrected_score": asdict(mean_ci(corrected[:, i])),
                "rank": float(raw_ranks[i]),
                "corrected_rank": float(corrected_ranks[i]),
                "mean_sigma": float(np.mean(sigmas[name])),
                "scored": int(np.sum(np.isfinite(raw[:, i]))),
                "images": int(len(raw)),
                "ranked_images": int(ranked),
            }
        )
    return rows


def same_and_different(similarities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Splits an `[N, N]` reference x prediction similarity matrix (the thesis's Fig. 4.7).

    Returns:
        (same: the diagonal, each prediction against its own reference;
        different: every prediction against every other reference), NaNs dropped.
    """
    similarities = np.asarray(similarities, np.float64)
    same = np.diag(similarities)
    different = similarities[~np.eye(len(similarities), dtype=bool)]
    return same[np.isfinite(same)], different[np.isfinite(different)]


class IdentityScorer:
    """Detects, embeds and compares faces with one backend (reuse it: models load once).

    Args:
        backend: a name in `embedding.BACKENDS`.
        min_confidence: the detector's threshold.
    """

    def __init__(self, backend: str = "dlib", min_confidence: float = 0.5) -> None:
        self.backend_name = backend
        self._backend = get_backend(backend)  # first: a missing backend fails before mediapipe loads
        self._detector = FaceDetector(min_confidence)

    def __enter__(self) -> IdentityScorer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._detector.close()

    @property
    def detector(self) -> FaceDetector:
        return self._detector

    def embed(self, image: np.ndarray, what: str = "the image", face: FaceBox | None = None):
        """(embedding, face box) of the most confident face.

        Raises:
            FaceNotFound: if no face is detected.
        """
        face = face or self._detector.detect(image, what)
        return self._backend.embed(image, face), face

    def try_embed(self, image: np.ndarray) -> np.ndarray | None:
        """The embedding, or None when no face is found."""
        try:
            return self.embed(image)[0]
        except FaceNotFound:
            return None

    def embed_many(self, images) -> np.ndarray:
        """`[N, d]` embeddings, rows of NaN where no face was found."""
        embeddings = [self.try_embed(image) for image in images]
        width = next((len(e) for e in embeddings if e is not None), 1)
        return np.stack([e if e is not None else np.full(width, np.nan) for e in embeddings])

    def score(self, image: np.ndarray, rendering: np.ndarray) -> float:
        """Identity score of one pair.

        Raises:
            FaceNotFound: naming which image showed no face.
        """
        a, _ = self.embed(image, "the input image")
        b, _ = self.embed(rendering, "the rendering of the prediction")
        return float(cosine_similarity(a, b))
