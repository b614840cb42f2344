"""The samplers study's identity scores: every seed of every network on the same test examples.

Per (network, seed, image): the cosine of the face embeddings (as before),
dlib's distance-based similarity `1 - L2 / 2` (the cosine for other
backends), its calibration (the fraction of the test set's different-identity
pairs that score lower) and the thesis's corrected score (Eq. 6.2) on that
similarity, calibrated too; see `components/identity/calibration.py` for why.
Means with 95% CIs over images and seeds (`study.bootstrap`); ranks per seed
(networks and naive ranked per image), averaged over seeds.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np

from headsynth.components.evaluation.example_set import ExampleSet, pick_examples
from headsynth.components.evaluation.identity_eval import reference_images, render_predictions
from headsynth.components.identity.calibration import (
    DLIB_THRESHOLD,
    calibrate,
    different_pairs,
    distance_similarity,
    distribution_summary,
    identity_groups,
    pair_scores,
)
from headsynth.components.identity.scores import IdentityScorer, corrected_score, instance_sigma, mean_ranks
from headsynth.components.rendering.painter import HeadPainter
from headsynth.config import EvaluationConfig
from headsynth.core.io_utils import save_npz, write_text_atomic
from headsynth.report.figures import plot_identity_scores, plot_score_distributions
from headsynth.report.values import json_ready
from headsynth.study.bootstrap import Bootstrap, mean_with_ci

# The per-(seed, image) arrays of one network, each `[S, n]` (naive: S = 1).
MEASURES = ("cosine", "score", "calibrated", "corrected_score", "corrected_calibrated")


@dataclass
class SeedScores:
    """Identity scores of every network's seeds on the same n chosen test examples.

    Attributes:
        measure: "dlib" (score = 1 - L2 / 2) or "cosine" (score = cosine; other backends).
        cosine, score, sigma: network -> `[S, n]` (NaN: no face found).
        different: `[P]` scores of the pairs of references of different identities.
        examples: `[n]` the chosen examples' indices.
        references_found: references in which a face was found.
    """

    measure: str
    cosine: dict[str, np.ndarray]
    score: dict[str, np.ndarray]
    sigma: dict[str, np.ndarray]
    different: np.ndarray
    examples: np.ndarray
    references_found: int


def score_seeds(
    examples: ExampleSet,
    predictions: dict[str, np.ndarray],
    painter: HeadPainter,
    options: EvaluationConfig,
) -> SeedScores:
    """Embeds the references once and every network's renders per seed.

    Args:
        examples: the test set.
        predictions: network -> `[S, N, m]` predicted q (naive: `[1, N, m]`).
        painter: a `HeadPainter` of the test set's model at the predictions' scale.
        options: the evaluation section (backend, examples, reference, image size).
    """
    chosen = pick_examples(options.identity_examples, len(examples.q))
    measure = "dlib" if options.identity_backend == "dlib" else "cosine"
    cosine, score, sigma = {}, {}, {}
    with IdentityScorer(options.identity_backend) as scorer:
        references = scorer.embed_many(reference_images(examples, chosen, painter, options))
        for name, per_seed in predictions.items():
            rows = []
            for q in np.asarray(per_seed)[:, chosen]:
                embeddings = scorer.embed_many(render_predictions(painter, q, options.identity_image_size))
                rows.append(
                    (
                        pair_scores(references, embeddings, "cosine"),
                        pair_scores(references, embeddings, measure),
                    )
                )
            cosine[name] = np.stack([r[0] for r in rows])
            score[name] = np.stack([r[1] for r in rows])
            sigma[name] = instance_sigma(np.asarray(per_seed)[:, chosen], painter.scale)
    groups = identity_groups(examples.q[chosen])
    return SeedScores(
        measure,
        cosine,
        score,
        sigma,
        different_pairs(references, groups, measure),
        np.asarray(examples.index)[chosen],
        int(np.sum(np.all(np.isfinite(references), axis=1))),
    )


def network_measures(scores: SeedScores, name: str, n: float) -> dict[str, np.ndarray]:
    """One network's `[S, n]` arrays of every measure in `MEASURES`."""
    corrected = corrected_score(scores.score[name], scores.sigma[name], n)
    return {
        "cosine": scores.cosine[name],
        "score": scores.score[name],
        "calibrated": calibrate(scores.score[name], scores.different),
        "corrected_score": corrected,
        "corrected_calibrated": calibrate(corrected, scores.different),
    }


def ci_of(values: np.ndarray, bootstrap: Bootstrap, select: np.ndarray) -> dict:
    """`mean_with_ci` of `[S, n]` values over the `select`ed images (NaNs outside them)."""
    if not select.any():
        nan = float("nan")
        return {
            "mean": nan,
            "median": nan,
            "ci95_low": nan,
            "ci95_high": nan,
            "count": 0,
            "seeds": len(values),
        }
    return mean_with_ci(np.nan_to_num(values), bootstrap, select)


def seed_ranks(arrays: dict[str, np.ndarray]) -> tuple[np.ndarray, int]:
    """Per seed k, every network's seed k (naive's only row) ranked per image; the ranks averaged over seeds.

    Returns:
        (`[networks]` mean ranks, images ranked in the last seed).
    """
    seeds = max(len(a) for a in arrays.values())
    per_seed, ranked = [], 0
    for k in range(seeds):
        columns = np.stack([a[min(k, len(a) - 1)] for a in arrays.values()], axis=1)
        ranks, ranked = mean_ranks(columns)
        per_seed.append(ranks)
    return np.nanmean(np.stack(per_seed), axis=0) if ranked else np.full(len(arrays), np.nan), ranked


def identity_table(scores: SeedScores, n: float, resamples: int, seed: int = 0) -> list[dict]:
    """Table 6.6's identity columns: per network every measure's mean [95% CI], ranks, penalty, counts."""
    bootstrap = Bootstrap.of(len(scores.examples), resamples, seed)
    measures = {name: network_measures(scores, name, n) for name in scores.score}
    raw_ranks, ranked = seed_ranks({k: m["score"] for k, m in measures.items()})
    corrected_ranks, _ = seed_ranks({k: m["corrected_score"] for k, m in measures.items()})
    rows = []
    for i, (name, arrays) in enumerate(measures.items()):
        select = np.all(np.isfinite(arrays["score"]), axis=0)  # scored in every seed
        row = {"network": name, **{m: ci_of(arrays[m], bootstrap, select) for m in MEASURES}}
        if scores.measure == "dlib":  # dlib's own verification: L2 below 0.6
            verified = (arrays["score"] > distance_similarity(DLIB_THRESHOLD)).astype(float)
            row["verified"] = ci_of(verified, bootstrap, select)
        row.update(
            {
                "rank": float(raw_ranks[i]),
                "corrected_rank": float(corrected_ranks[i]),
                "penalty": float(np.nanmean(arrays["score"] - arrays["corrected_score"])),
                "calibrated_penalty": float(
                    np.nanmean(arrays["calibrated"] - arrays["corrected_calibrated"])
                ),
                "mean_sigma": float(np.mean(scores.sigma[name])),
                "scored": int(select.sum()),
                "images": int(len(select)),
                "seeds": int(len(arrays["score"])),
                "ranked_images": int(ranked),
            }
        )
        rows.append(row)
    return rows


def identity_evaluation_seeds(
    examples: ExampleSet,
    predictions: dict[str, np.ndarray],
    painter: HeadPainter,
    options: EvaluationConfig,
    eval_dir: str,
    resamples: int,
) -> dict:
    """Scores every seed of every network; writes identity.json, identity.npz and the figures.

    Returns:
        identity.json's content plus `figures` (file name -> caption) and `corrected` (network -> `[S, n]`
        corrected scores, for the findings).

    Raises:
        IdentityBackendUnavailable: if the backend's weights or packages are missing.
    """
    scores = score_seeds(examples, predictions, painter, options)
    table = identity_table(scores, options.corrected_score_n, resamples)
    same = {name: distribution_summary(s) for name, s in scores.score.items()}
    result = json_ready(
        {
            "backend": options.identity_backend,
            "measure": scores.measure,
            "reference": options.identity_reference,
            "image_size": options.identity_image_size,
            "corrected_score_n": options.corrected_score_n,
            "examples": [int(i) for i in scores.examples],
            "references_with_face": scores.references_found,
            "different_pairs": distribution_summary(scores.different),
            "same_pairs": same,
            "table": table,
        }
    )
    write_text_atomic(os.path.join(eval_dir, "identity.json"), json.dumps(result, indent=2))
    n = options.corrected_score_n
    arrays = {
        f"{m}__{name}": a for name in scores.score for m, a in network_measures(scores, name, n).items()
    }
    save_npz(
        os.path.join(eval_dir, "identity.npz"), different=scores.different, examples=scores.examples, **arrays
    )
    result["figures"] = write_figures(table, scores, options.identity_backend, eval_dir)
    result["corrected"] = {name: arrays[f"corrected_score__{name}"] for name in scores.score}
    return result


def write_figures(table: list[dict], scores: SeedScores, backend: str, eval_dir: str) -> dict[str, str]:
    """The score figure (Fig. 6.13) and same-vs-different histograms; returns file name -> caption."""
    if not any(row["scored"] for row in table):
        return {}
    plot_identity_scores(table, os.path.join(eval_dir, "identity_scores.png"))
    distributions = {name: (s[np.isfinite(s)], scores.different) for name, s in scores.score.items()}
    plot_score_distributions(distributions, os.path.join(eval_dir, "identity_distributions.png"), backend)
    scale = "dlib similarity 1 - L2/2" if scores.measure == "dlib" else "cosine similarity"
    return {
        "identity_scores.png": f"Identity score ({backend}, {scale}) and corrected score with 95% CIs over images and seeds.",
        "identity_distributions.png": (
            f"{scale}: each prediction against its own reference (same; all seeds) and every pair of test "
            "references of different identities (different: the calibration's reference distribution)."
        ),
    }
