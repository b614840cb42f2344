"""The SampleParameters artifact: q for each split in one `.npz` file."""

from __future__ import annotations

import os

import numpy as np

from headsynth.core.errors import DataError, ParameterError
from headsynth.core.io_utils import load_npz_arrays, save_npz

PARAMETERS_FILE = "parameters.npz"


def save_split_parameters(path: str | os.PathLike, splits: dict[str, np.ndarray], **metadata) -> None:
    """Writes `q_<split>` arrays (and scalar metadata) atomically."""
    arrays = {f"q_{split}": np.asarray(q, np.float32) for split, q in splits.items()}
    for split, q in arrays.items():
        if q.ndim != 2 or not np.all(np.isfinite(q)):
            raise ParameterError(
                f"Parameters {split} must be a finite [n, m] array. Received shape {q.shape}."
            )
    arrays.update({f"meta_{key}": np.asarray(value) for key, value in metadata.items()})
    save_npz(path, **arrays)


def _open(path: str | os.PathLike) -> dict[str, np.ndarray]:
    try:
        return load_npz_arrays(path)
    except (OSError, ValueError, EOFError) as error:
        raise DataError(
            f"Parameter file {path} cannot be read ({error}).", "Rerun SampleParameters."
        ) from None


def load_split_parameters(path: str | os.PathLike, split: str) -> np.ndarray:
    """`[n, m]` float32 q of one split."""
    data = _open(path)
    if f"q_{split}" not in data:
        raise DataError(f"Parameter file {path} has no split {split!r}.", "Rerun SampleParameters.")
    return data[f"q_{split}"]


def split_counts(path: str | os.PathLike) -> dict[str, int]:
    """Number of vectors per split, in file order."""
    return {key[2:]: int(value.shape[0]) for key, value in _open(path).items() if key.startswith("q_")}
