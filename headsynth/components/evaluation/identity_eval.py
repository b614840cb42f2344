"""The identity score of several networks on the same test examples.

For each chosen test example, the prediction of every compared network is
rendered frontally (scenario *none*, yaw 0, gray background) and compared by
face recognition with the example's reference: by default a frontal rendering
of its true q (`identity_reference="truth"`), or the input image itself
(`"input"`, as the thesis does with photographs; synthetic inputs seen from
the side often show no detectable face, and those count as unscored).
Writes identity.json, identity_scores.png and identity_distributions.png.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np

from headsynth.components.evaluation.example_set import ExampleSet, pick_examples
from headsynth.components.identity.scores import (
    IdentityScorer,
    compare_networks,
    instance_sigma,
    same_and_different,
    similarity_matrix,
)
from headsynth.components.rendering.painter import HeadPainter, decode_images
from headsynth.config import EvaluationConfig
from headsynth.core.io_utils import write_text_atomic
from headsynth.report.figures import plot_identity_scores, plot_score_distributions
from headsynth.report.values import json_ready


@dataclass
class NetworkScores:
    """One network's identity scores on the chosen examples.

    Attributes:
        scores: `[n]` identity score of each prediction against its reference (NaN: unscored).
        sigma: the predictions' instance sigma (see `scores.instance_sigma`).
        distribution: (same, different) scores, see `scores.same_and_different`.
        found: renders in which a face was found.
    """

    scores: np.ndarray
    sigma: np.ndarray
    distribution: tuple[np.ndarray, np.ndarray]
    found: int


def render_predictions(painter: HeadPainter, q: np.ndarray, image_size: int) -> np.ndarray:
    """Frontal renders of `[N, m]` q; identical rows (the naive predictor) are rendered once."""
    q = np.asarray(q, np.float32)
    if len(q) > 1 and np.all(q == q[0]):
        return np.repeat(painter.render(q[:1], image_size, yaw_deg=0.0), len(q), axis=0)
    return painter.render(q, image_size, yaw_deg=0.0)


def reference_images(
    examples: ExampleSet, chosen: np.ndarray, painter: HeadPainter, options: EvaluationConfig
) -> np.ndarray:
    """The images predictions are compared with (see the module docstring)."""
    if options.identity_reference == "truth":
        return painter.render(examples.q[chosen], options.identity_image_size, yaw_deg=0.0)
    return decode_images([examples.images[i] for i in chosen], options.identity_image_size)


def score_network(
    scorer: IdentityScorer,
    painter: HeadPainter,
    q: np.ndarray,
    reference_embeddings: np.ndarray,
    image_size: int,
) -> NetworkScores:
    """Scores `[n, m]` predictions against the `[n, d]` embeddings of their references."""
    embeddings = scorer.embed_many(render_predictions(painter, q, image_size))
    similarities = similarity_matrix(reference_embeddings, embeddings)
    return NetworkScores(
        scores=np.diag(similarities) if similarities.size else np.full(len(q), np.nan),
        sigma=instance_sigma(q, painter.scale),
        distribution=same_and_different(similarities),
        found=int(np.sum(np.all(np.isfinite(embeddings), axis=1))),
    )


def identity_evaluation(
    examples: ExampleSet,
    predictions: dict[str, np.ndarray],
    painter: HeadPainter,
    options: EvaluationConfig,
    output_dir: str,
    prefix: str = "",
    scorer: IdentityScorer | None = None,
) -> dict:
    """Scores every network's predictions on the same examples; writes files named `prefix` + ...

    Args:
        examples: the `ExampleSet` the predictions were made on.
        predictions: network name -> `[N, m]` predicted q for all N examples.
        painter: a `HeadPainter` of the examples' face model.
        options: the evaluation section (backend, examples, reference, n, image size).
        output_dir: where identity.json and the figures go.
        prefix: file name prefix (e.g. a test scenario).
        scorer: an open scorer to reuse (else one is made and closed).

    Returns:
        identity.json's content plus `figures` (file name -> caption).

    Raises:
        IdentityBackendUnavailable: if the backend's weights or packages are missing.
    """
    chosen = pick_examples(options.identity_examples, len(examples.q))
    own_scorer = scorer is None
    scorer = scorer or IdentityScorer(options.identity_backend)
    try:
        reference_embeddings = scorer.embed_many(reference_images(examples, chosen, painter, options))
        networks = {
            name: score_network(
                scorer, painter, np.asarray(q)[chosen], reference_embeddings, options.identity_image_size
            )
            for name, q in predictions.items()
        }
    finally:
        if own_scorer:
            scorer.close()
    table = compare_networks(
        {name: n.scores for name, n in networks.items()},
        {name: n.sigma for name, n in networks.items()},
        options.corrected_score_n,
    )
    result = json_ready(identity_summary(examples, chosen, options, reference_embeddings, networks, table))
    write_text_atomic(os.path.join(output_dir, f"{prefix}identity.json"), json.dumps(result, indent=2))
    distributions = {name: n.distribution for name, n in networks.items()}
    result["figures"] = write_identity_figures(table, distributions, options, output_dir, prefix)
    return result


def _mean_or_nan(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def identity_summary(
    examples: ExampleSet,
    chosen: np.ndarray,
    options: EvaluationConfig,
    reference_embeddings: np.ndarray,
    networks: dict[str, NetworkScores],
    table: list[dict],
) -> dict:
    """identity.json's content (before NaN becomes null)."""
    return {
        "backend": options.identity_backend,
        "reference": options.identity_reference,
        "image_size": options.identity_image_size,
        "corrected_score_n": options.corrected_score_n,
        "examples": [int(examples.index[i]) for i in chosen],
        "references_with_face": int(np.sum(np.all(np.isfinite(reference_embeddings), axis=1))),
        "renders_with_face": {name: n.found for name, n in networks.items()},
        "table": table,
        "same_vs_different": {
            name: {
                "same_mean": _mean_or_nan(n.distribution[0]),
                "different_mean": _mean_or_nan(n.distribution[1]),
            }
            for name, n in networks.items()
        },
        "scores": {name: [float(s) for s in n.scores] for name, n in networks.items()},
    }


def write_identity_figures(
    table: list[dict],
    distributions: dict[str, tuple[np.ndarray, np.ndarray]],
    options: EvaluationConfig,
    output_dir: str,
    prefix: str = "",
) -> dict[str, str]:
    """Writes the score and distribution figures when any image was scored; returns file name -> caption."""
    if not any(row["scored"] for row in table):
        return {}
    plot_identity_scores(table, os.path.join(output_dir, f"{prefix}identity_scores.png"))
    plot_score_distributions(
        distributions,
        os.path.join(output_dir, f"{prefix}identity_distributions.png"),
        options.identity_backend,
    )
    return {
        f"{prefix}identity_scores.png": (
            f"Identity score ({options.identity_backend}, cosine similarity) and corrected score "
            f"(n = {options.corrected_score_n:g}) with 95% confidence intervals."
        ),
        f"{prefix}identity_distributions.png": (
            "Identity scores of each prediction against its own reference (same) and against every "
            "other reference (different)."
        ),
    }
