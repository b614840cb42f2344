"""TFX artifact types of headsynth's own outputs (standard types are used where they fit)."""

from __future__ import annotations

from tfx.types import artifact


class FaceModel(artifact.Artifact):
    """A morphable model: `model.npz` in headsynth's format."""

    TYPE_NAME = "headsynth.FaceModel"


class Parameters(artifact.Artifact):
    """Sampled parameter vectors: `parameters.npz` with `q_train` and `q_eval`."""

    TYPE_NAME = "headsynth.Parameters"


class Evaluation(artifact.Artifact):
    """Evaluation results: metrics.json, errors.npz and figures."""

    TYPE_NAME = "headsynth.Evaluation"
