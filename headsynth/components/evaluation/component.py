"""Evaluate: error of the trained regressor vs the naive predictor, figures, identity score, report.

Wiring (in `pipeline.create_pipeline`):

    Evaluate(
        model=trainer.outputs["model"],
        examples=render.outputs["examples"],
        model_run=trainer.outputs["model_run"],   # optional: regressor.keras, for the saliency figure
        **wiring.evaluate_parameters(config),
    )

The Evaluation artifact holds `report.html` (its path is also the artifact's
`report_html` custom property) beside metrics.json, the figures and
TensorBoard events.
"""

# No `from __future__ import annotations`: TFX parses these annotations at import time.

import dataclasses
import os

from tfx.dsl.component.experimental.decorators import component
from tfx.types import standard_artifacts
from tfx.utils import path_utils
from tfx.v1.dsl.components import InputArtifact, OutputArtifact, Parameter

from headsynth.components.evaluation.evaluate import REPORT_FILE, evaluate_model
from headsynth.components.evaluation.real_photos import summary_line
from headsynth.config import EvaluationConfig
from headsynth.core.progress import report
from headsynth.data_schemas.artifacts import Evaluation

# EvaluationConfig fields the component takes as parameters (the study's fields stay out);
# `headsynth.wiring.evaluate_parameters` reads them from the config.
PARAMETER_FIELDS = (
    "saliency_examples",
    "moving_average_window",
    "identity_backend",
    "identity_examples",
    "identity_reference",
    "identity_image_size",
    "corrected_score_n",
    "real_photos",
)


@component
def Evaluate(
    model: InputArtifact[standard_artifacts.Model],
    examples: InputArtifact[standard_artifacts.Examples],
    evaluation: OutputArtifact[Evaluation],
    blessing: OutputArtifact[standard_artifacts.ModelBlessing],
    model_run: InputArtifact[standard_artifacts.ModelRun] = None,
    split: Parameter[str] = "eval",
    saliency_examples: Parameter[int] = EvaluationConfig.saliency_examples,
    moving_average_window: Parameter[int] = EvaluationConfig.moving_average_window,
    identity_backend: Parameter[str] = EvaluationConfig.identity_backend,
    identity_examples: Parameter[int] = EvaluationConfig.identity_examples,
    identity_reference: Parameter[str] = EvaluationConfig.identity_reference,
    identity_image_size: Parameter[int] = EvaluationConfig.identity_image_size,
    corrected_score_n: Parameter[float] = EvaluationConfig.corrected_score_n,
    real_photos: Parameter[str] = EvaluationConfig.real_photos,
) -> None:
    """Blesses the model when the upper end of its error's 95% CI is below the naive mean error."""
    options = dataclasses.replace(
        EvaluationConfig(),
        saliency_examples=saliency_examples,
        moving_average_window=moving_average_window,
        identity_backend=identity_backend,
        identity_examples=identity_examples,
        identity_reference=identity_reference,
        identity_image_size=identity_image_size,
        corrected_score_n=corrected_score_n,
        real_photos=real_photos,
    )
    keras_model = os.path.join(model_run.uri, "regressor.keras") if model_run is not None else None
    metrics = evaluate_model(
        path_utils.serving_model_path(model.uri),
        examples.uri,
        evaluation.uri,
        split,
        keras_model_path=keras_model,
        options=options,
    )
    evaluation.set_float_custom_property("net_mean_error", metrics["net"]["mean"])
    evaluation.set_float_custom_property("naive_mean_error", metrics["naive"]["mean"])
    evaluation.set_string_custom_property("report_html", os.path.join(evaluation.uri, REPORT_FILE))
    blessing.set_int_custom_property("blessed", int(metrics["beats_naive"]))
    report(
        "Evaluate",
        f"mean squared error on q: net {metrics['net']['mean']:.3f}, naive {metrics['naive']['mean']:.3f} "
        f"({'blessed' if metrics['beats_naive'] else 'NOT blessed'})",
    )
    if metrics.get("real_photos"):
        report("Evaluate", "real photos: " + summary_line(metrics["real_photos"]["summary"]))
