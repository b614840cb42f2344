"""The real-photo scores, from embeddings alone: similarity matrices, ranks, verification, labels.

Pure functions over `[N, d]` face embeddings (no detector, no network), so
each figure of `real_photos` can be checked by hand.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from headsynth.components.identity.calibration import DLIB_THRESHOLD
from headsynth.components.identity.scores import similarity_matrix


def l2_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`[N, M]` Euclidean distances of `[N, d]` and `[M, d]` embeddings (dlib's measure)."""
    a, b = np.atleast_2d(np.asarray(a, np.float64)), np.atleast_2d(np.asarray(b, np.float64))
    return np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)


def probe_matrices(
    probes: np.ndarray, probes_gray: np.ndarray, gallery: np.ndarray, gray: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(cosine `[N, M]`, L2 `[N, M]`) of N probes against M gallery faces.

    Args:
        probes: `[N, d]` embeddings of the colour renderings (NaN rows: no face found).
        probes_gray: `[N, d]` embeddings of the same renderings in grayscale.
        gallery: `[M, d]` embeddings of the photo faces.
        gray: `[M]` whether each gallery photo is grayscale (its column uses `probes_gray`).
    """
    gray = np.asarray(gray, bool)
    cosine = np.where(
        gray[None, :], similarity_matrix(probes_gray, gallery), similarity_matrix(probes, gallery)
    )
    l2 = np.where(gray[None, :], l2_matrix(probes_gray, gallery), l2_matrix(probes, gallery))
    return cosine, l2


def own_ranks(similarities: np.ndarray) -> np.ndarray:
    """`[N]` rank of gallery item i for probe i in `[N, N]` similarities (1 = best; ties count against; NaN rows NaN)."""
    similarities = np.asarray(similarities, np.float64)
    own = np.diag(similarities)
    others = ~np.eye(len(similarities), dtype=bool)
    # A NaN comparison is False, so a NaN row would rank 1: it is set to NaN instead.
    ranks = 1.0 + np.sum((similarities >= own[:, None]) & others, axis=1)
    return np.where(np.isfinite(own), ranks, np.nan)


def face_scores(
    recon: tuple[np.ndarray, np.ndarray],
    mean_face: tuple[np.ndarray, np.ndarray],
    gallery: np.ndarray,
    gray: np.ndarray,
    threshold: float = DLIB_THRESHOLD,
) -> dict:
    """Similarities, ranks and verification of N reconstructions against their N photo faces.

    Args:
        recon: (`[N, d]` colour, `[N, d]` grayscale) embeddings of the reconstructions' renderings.
        mean_face: (`[d]` colour, `[d]` grayscale) embeddings of the mean face's rendering.
        gallery: `[N, d]` embeddings of the photo faces; face i is reconstruction i's own.
        gray: `[N]` whether each photo is grayscale.
        threshold: the L2 distance below which dlib calls two faces one person.

    Returns:
        "cosine"/"l2": `[N, N]` reconstruction x photo face; per face "own"/"mean_face"
        cosine and "own_l2"/"mean_face_l2", "rank" (by cosine) and "rank_l2"; "summary": counts.
    """
    n = len(gallery)
    cosine, l2 = probe_matrices(recon[0], recon[1], gallery, gray)
    mean_cosine, mean_l2 = probe_matrices(
        np.tile(mean_face[0], (n, 1)), np.tile(mean_face[1], (n, 1)), gallery, gray
    )
    own, own_l2 = np.diag(cosine), np.diag(l2)
    mean, mean_l2_own = np.diag(mean_cosine), np.diag(mean_l2)
    ranks, ranks_l2 = own_ranks(cosine), own_ranks(-l2)
    others = ~np.eye(n, dtype=bool)
    summary = {
        "faces": n,
        "own_above_mean_face": int(np.sum(own > mean)),
        "rank1": int(np.sum(ranks == 1)),
        "rank1_l2": int(np.sum(ranks_l2 == 1)),
        "rank1_chance": 1.0 / n,
        "verified": int(np.sum(own_l2 < threshold)),
        "mean_face_verified": int(np.sum(mean_l2_own < threshold)),
        "other_photos_accepted": int(np.sum((l2 < threshold) & others)),
        "other_pairs": int(n * (n - 1)),
        "threshold": threshold,
        "own_similarity_mean": nanmean(own),
        "mean_face_similarity_mean": nanmean(mean),
        "other_similarity_mean": nanmean(cosine[others]) if n > 1 else float("nan"),
        "reconstructions_with_face": int(np.sum(np.all(np.isfinite(recon[0]), axis=1))),
    }
    return {
        "cosine": cosine,
        "l2": l2,
        "own": own,
        "mean_face": mean,
        "own_l2": own_l2,
        "mean_face_l2": mean_l2_own,
        "rank": ranks,
        "rank_l2": ranks_l2,
        "summary": summary,
    }


def nanmean(values: np.ndarray) -> float:
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else float("nan")


def label_comparison(embeddings: np.ndarray, persons: list[str | None]) -> dict:
    """Whether pairs of one person's faces are closer (L2) than pairs of two people's.

    Args:
        embeddings: `[N, d]` (NaN rows: no face; their pairs are left out).
        persons: `[N]` person of each face, None if unlabelled (left out).

    Returns:
        Pair counts, mean L2 and cosine of same-person and different-person pairs, and
        "closer_fraction": of all (same pair, different pair) combinations, the share
        where the same-person pair is closer (ties count half; NaN without both kinds).
    """
    embeddings = np.asarray(embeddings, np.float64)
    usable = [i for i, p in enumerate(persons) if p and np.all(np.isfinite(embeddings[i]))]
    pairs = {"same": [], "different": []}
    for a, b in combinations(usable, 2):
        kind = "same" if persons[a] == persons[b] else "different"
        pairs[kind].append((a, b))
    result = {}
    distances = {}
    for kind, chosen in pairs.items():
        left = embeddings[[a for a, _ in chosen]] if chosen else np.zeros((0, embeddings.shape[1]))
        right = embeddings[[b for _, b in chosen]] if chosen else np.zeros((0, embeddings.shape[1]))
        distances[kind] = np.linalg.norm(left - right, axis=1)
        cosines = np.sum(left * right, axis=1) / np.maximum(
            np.linalg.norm(left, axis=1) * np.linalg.norm(right, axis=1), 1e-12
        )
        result[f"{kind}_pairs"] = len(chosen)
        result[f"{kind}_l2_mean"] = nanmean(distances[kind])
        result[f"{kind}_cosine_mean"] = nanmean(cosines)
    same, different = distances["same"], distances["different"]
    if len(same) and len(different):
        closer = (same[:, None] < different[None, :]) + 0.5 * (same[:, None] == different[None, :])
        result["closer_fraction"] = float(closer.mean())
    else:
        result["closer_fraction"] = float("nan")
    return result


# Labels ---------------------------------------------------------------------------------------
