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

import numpy as np

from headsynth.components.identity.scores import (
    IdentityScorer,
    compare_networks,
    instance_sigma,
    same_and_different,
    similarity_matrix,
)
from headsynth.config import EvaluationConfig
from headsynth.io_utils import write_text_atomic
from headsynth.report.values import json_ready


def render_predictions(painter, q: np.ndarray, image_size: int) -> np.ndarray:
    """Frontal renders of `[N, m]` q; identical rows (the naive predictor) are rendered once."""
    q = np.asarray(q, np.float32)
    if len(q) > 1 and np.all(q == q[0]):
        return np.repeat(painter.render(q[:1], image_size, yaw_deg=0.0), len(q), axis=0)
    return painter.render(q, image_size, yaw_deg=0.0)


def reference_images(examples, chosen: np.ndarray, painter, options: EvaluationConfig) -> np.ndarray:
    """The images predictions are compared with (see the module docstring)."""
    if options.identity_reference == "truth":
        return painter.render(examples.q[chosen], options.identity_image_size, yaw_deg=0.0)
    from headsynth.components.evaluation.saliency import decode_images

    return decode_images([examples.images[i] for i in chosen], options.identity_image_size)


def identity_evaluation(
    examples,
    predictions: dict[str, np.ndarray],
    painter,
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
    from headsynth.components.evaluation.evaluate import pick_examples
    from headsynth.components.evaluation.figures import plot_identity_scores, plot_score_distributions

    chosen = pick_examples(options.identity_examples, len(examples.q))
    own_scorer = scorer is None
    scorer = scorer or IdentityScorer(options.identity_backend)
    try:
        references = reference_images(examples, chosen, painter, options)
        reference_embeddings = scorer.embed_many(references)
        scores, sigmas, distributions, found = {}, {}, {}, {}
        for name, q in predictions.items():
            q = np.asarray(q)[chosen]
            renders = render_predictions(painter, q, options.identity_image_size)
            embeddings = scorer.embed_many(renders)
            similarities = similarity_matrix(reference_embeddings, embeddings)
            scores[name] = np.diag(similarities) if similarities.size else np.full(len(chosen), np.nan)
            sigmas[name] = instance_sigma(q, painter.scale)
            distributions[name] = same_and_different(similarities)
            found[name] = int(np.sum(np.all(np.isfinite(embeddings), axis=1)))
    finally:
        if own_scorer:
            scorer.close()
    table = compare_networks(scores, sigmas, options.corrected_score_n)
    result = {
        "backend": options.identity_backend,
        "reference": options.identity_reference,
        "image_size": options.identity_image_size,
        "corrected_score_n": options.corrected_score_n,
        "examples": [int(examples.index[i]) for i in chosen],
        "references_with_face": int(np.sum(np.all(np.isfinite(reference_embeddings), axis=1))),
        "renders_with_face": found,
        "table": table,
        "same_vs_different": {
            name: {
                "same_mean": float(np.mean(same)) if len(same) else float("nan"),
                "different_mean": float(np.mean(different)) if len(different) else float("nan"),
            }
            for name, (same, different) in distributions.items()
        },
        "scores": {name: [float(s) for s in values] for name, values in scores.items()},
    }
    result = json_ready(result)
    write_text_atomic(os.path.join(output_dir, f"{prefix}identity.json"), json.dumps(result, indent=2))
    figures = {}
    if any(row["scored"] for row in table):
        plot_identity_scores(table, os.path.join(output_dir, f"{prefix}identity_scores.png"))
        figures[f"{prefix}identity_scores.png"] = (
            f"Identity score ({options.identity_backend}, cosine similarity) and corrected score "
            f"(n = {options.corrected_score_n:g}) with 95% confidence intervals."
        )
        plot_score_distributions(
            distributions,
            os.path.join(output_dir, f"{prefix}identity_distributions.png"),
            options.identity_backend,
        )
        figures[f"{prefix}identity_distributions.png"] = (
            "Identity scores of each prediction against its own reference (same) and against every "
            "other reference (different)."
        )
    result["figures"] = figures
    return result
