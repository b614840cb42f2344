"""The samplers study on real photographs: every seed of every network reconstructs the packaged photos.

The thesis judged its samplers on fits of real photos; here each trained
network reads the real photographs that ship offline (`core.photos.packaged_photos`)
framed as its training images were, and `evaluate-photos`' measures score
each reconstruction against its own photo: dlib's cosine to the photo face,
whether it beats the mean face (q = 0, the naive predictor), and whether its
own photo ranks first among the photos (rank-1; chance 1/N). Means carry 95%
CIs over photos and seeds (`study.bootstrap`). Each network's full photo
report is kept under `evaluation/real_photos/<sampler>/seed<k>/`.
"""

from __future__ import annotations

import os

import numpy as np

from headsynth.components.evaluation.real_photos import evaluate_real_photos
from headsynth.components.prediction.predict import load_regressor
from headsynth.core.photos import packaged_photos
from headsynth.core.progress import report
from headsynth.study.bootstrap import Bootstrap, mean_with_ci

PHOTO_FOLDER = "real_photos"


def network_photo_scores(results: list[dict]) -> dict[str, np.ndarray]:
    """`[S, F]` per-seed, per-face measures of one network from its S `evaluate_real_photos` results.

    Returns:
        "own": cosine to the own photo; "mean_face": the mean face's cosine to the same photo;
        "above_mean_face", "rank1": 0/1 per face (NaN where the rendering had no face).
    """
    own = np.array([[f["own_similarity"] for f in r["faces"]] for r in results], np.float64)
    mean = np.array([[f["mean_face_similarity"] for f in r["faces"]] for r in results], np.float64)
    rank = np.array([[np.nan if f["rank"] is None else f["rank"] for f in r["faces"]] for r in results])
    scored = np.isfinite(own)
    return {
        "own": own,
        "mean_face": mean,
        "above_mean_face": np.where(scored, (own > mean).astype(np.float64), np.nan),
        "rank1": np.where(np.isfinite(rank), (rank == 1).astype(np.float64), np.nan),
    }


def photo_table(scores: dict[str, dict[str, np.ndarray]], resamples: int, seed: int = 0) -> list[dict]:
    """One row per network, then "naive" (the mean face): means [95% CI over photos and seeds], counts.

    Args:
        scores: network -> `network_photo_scores`, every network on the same F faces.
        resamples: bootstrap resamples.
    """
    faces = next(iter(scores.values()))["own"].shape[1]
    bootstrap = Bootstrap.of(faces, resamples, seed)
    rows = []
    for name, arrays in scores.items():
        row = {"network": name, "faces": faces, "seeds": int(arrays["own"].shape[0])}
        scored = np.all(np.isfinite(arrays["own"]), axis=0)  # faces rendered recognisably in every seed
        row["own"] = mean_with_ci(np.nan_to_num(arrays["own"]), bootstrap, scored)
        for measure in ("above_mean_face", "rank1"):  # a rendering without a face counts as a miss
            row[measure] = mean_with_ci(np.nan_to_num(arrays[measure]), bootstrap)
            row[f"{measure}_count"] = int(np.nansum(arrays[measure]))
        row["scored"] = int(np.sum(np.isfinite(arrays["own"])))
        rows.append(row)
    mean_face = next(iter(scores.values()))["mean_face"][:1]
    rows.append(
        {
            "network": "naive",
            "faces": faces,
            "seeds": 1,
            "own": mean_with_ci(np.nan_to_num(mean_face), bootstrap, np.isfinite(mean_face[0])),
            "above_mean_face": None,
            "rank1": None,
            "scored": int(np.sum(np.isfinite(mean_face))),
        }
    )
    return rows


def score_networks_on_photos(
    serving_dirs: dict[str, list[str]], eval_dir: str, resamples: int
) -> dict | None:
    """Every network's seeds on the packaged real photos; None when no packaged photo loads.

    Args:
        serving_dirs: network -> its seeds' SavedModel folders (q in sigma units: scale 1).
        eval_dir: the study's evaluation folder; reports go under `real_photos/`.
        resamples: bootstrap resamples of the CIs.

    Returns:
        {"table": `photo_table` rows, "faces": the faces' names, "notes": photos left out or without a face}.
    """
    photos, notes = packaged_photos()
    if not photos:
        return None
    report("study", f"real photos: {len(photos)} packaged photos through {len(serving_dirs)} networks' seeds")
    scores = {}
    for name, folders in serving_dirs.items():
        results = []
        for k, folder in enumerate(folders):
            out = os.path.join(eval_dir, PHOTO_FOLDER, name, f"seed{k}")
            results.append(evaluate_real_photos(load_regressor(folder, scale=1.0), photos, out, notes=notes))
        scores[name] = network_photo_scores(results)
    return {
        "table": photo_table(scores, resamples),
        "faces": [face["name"] for face in results[0]["faces"]],
        "notes": results[0]["notes"],  # packaged photos left out, photos without a face
    }
