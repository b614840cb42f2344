"""Loads a morphable model by source name: the built-in file, a `.npz`, or a Basel Face Model `.h5`."""

from __future__ import annotations

from headsynth.core.errors import ModelFileError
from headsynth.morphable.bfm import load_bfm2017
from headsynth.morphable.builtin import builtin_model_path
from headsynth.morphable.model import MorphableModel, load_npz


def load_model(source: str, shape_components: int = 0, texture_components: int = 0) -> MorphableModel:
    """Loads a model by source ("builtin", a `.npz` path or a BFM `.h5` path) and truncates it.

    Raises:
        ModelFileError: if the source cannot be loaded.
    """
    if source == "builtin":
        model = load_npz(builtin_model_path())
    elif str(source).endswith(".npz"):
        model = load_npz(source)
    elif str(source).endswith((".h5", ".hdf5")):
        model = load_bfm2017(source)
    else:
        raise ModelFileError(
            f"Unknown face model source {source!r}.",
            "Use 'builtin', a .npz file in headsynth's format, or a Basel Face Model 2017 .h5 file.",
        )
    return model.truncated(shape_components, texture_components)
