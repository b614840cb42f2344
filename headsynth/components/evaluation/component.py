"""Evaluate: error of the trained regressor vs the naive predictor, and the blessing."""

# No `from __future__ import annotations`: TFX parses these annotations at import time.

from tfx.dsl.component.experimental.decorators import component
from tfx.types import standard_artifacts
from tfx.utils import path_utils
from tfx.v1.dsl.components import InputArtifact, OutputArtifact, Parameter

from headsynth.components.evaluation.evaluate import evaluate_model
from headsynth.data_schemas.artifacts import Evaluation
from headsynth.progress import report


@component
def Evaluate(
    model: InputArtifact[standard_artifacts.Model],
    examples: InputArtifact[standard_artifacts.Examples],
    evaluation: OutputArtifact[Evaluation],
    blessing: OutputArtifact[standard_artifacts.ModelBlessing],
    split: Parameter[str] = "eval",
) -> None:
    """Blesses the model when the upper end of its error's 95% CI is below the naive mean error."""
    metrics = evaluate_model(path_utils.serving_model_path(model.uri), examples.uri, evaluation.uri, split)
    evaluation.set_float_custom_property("net_mean_error", metrics["net"]["mean"])
    evaluation.set_float_custom_property("naive_mean_error", metrics["naive"]["mean"])
    blessing.set_int_custom_property("blessed", int(metrics["beats_naive"]))
    report(
        "Evaluate",
        f"mean squared error on q: net {metrics['net']['mean']:.3f}, naive {metrics['naive']['mean']:.3f} "
        f"({'blessed' if metrics['beats_naive'] else 'NOT blessed'})",
    )
