"""The TFX artifact type of a fitted generative model (a folder; see `store.py`)."""

from __future__ import annotations

from tfx.types import artifact


class GenerativeModel(artifact.Artifact):
    """Fitted GMMs and conditional GANs of realistic parameter vectors: `generative_model.json` and files."""

    TYPE_NAME = "headsynth.GenerativeModel"
