"""Reads Basel Face Model 2017 `.h5` files into a `MorphableModel`.

The BFM 2017 files (statismo layout) hold one group per part, `shape`,
`color` and optionally `expression`, each with:

    <part>/model/mean         [3V]     float, flattened x0, y0, z0, x1, ...
    <part>/model/pcaBasis     [3V, k]  orthonormal columns
    <part>/model/pcaVariance  [k]      variance per column, so sigma = sqrt(variance)
    <part>/representer/cells  [3, T]   triangles, transposed
    <part>/representer/points [3, V]   the reference mesh

Shape is in millimetres and colours are in [0, 1]. The triangles come from
`shape/representer/cells`. Landmarks are optional: `metadata/landmarks` as
`[L]` vertex indices, or the BFM's own `metadata/landmarks/json` (named
points with coordinates on the reference mesh, mapped to the nearest vertex).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from headsynth.core.errors import ModelFileError
from headsynth.morphable.model import (
    MorphableModel,
    PcaPart,
    check_topology,
    validate_part,
)

# BFM group name -> headsynth part name.
PART_GROUPS = {"shape": "shape", "color": "texture", "expression": "expression"}
LANDMARKS_KEY = "metadata/landmarks"
# Expected shape of each dataset, by the last two parts of its key (V vertices, k components, T triangles).
EXPECTED_SHAPES = {
    "model/mean": "[3V]",
    "model/pcaBasis": "[3V, k]",
    "model/pcaVariance": "[k]",
    "representer/cells": "[3, T]",
    "representer/points": "[3, V]",
}
_FIX_LAYOUT = (
    "Use a Basel Face Model 2017 file (e.g. model2017-1_bfm_nomouth.h5) as downloaded from "
    "faces.dmi.unibas.ch, or convert the model to headsynth's .npz format."
)


def load_bfm2017(
    path: str | os.PathLike, shape_components: int = 0, texture_components: int = 0
) -> MorphableModel:
    """Loads a Basel Face Model 2017 `.h5` file.

    Args:
        path: the `.h5` file.
        shape_components: read only the first k shape components (0 reads all).
        texture_components: read only the first k colour components (0 reads all).
            Reading fewer columns keeps a 50-component model of the 53k-vertex
            BFM at a fraction of the full basis' memory.

    Returns:
        The model, named after the file, with float32 arrays.

    Raises:
        ModelFileError: if the file is missing, not HDF5, or a key is missing,
            has the wrong shape, holds NaN/inf, or has fewer components than asked
            for; the message names the key (e.g. "shape/model/pcaBasis") and the
            expected shape.
    """
    import h5py

    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"Model file {path} does not exist.", "Check face_model.source.")
    try:
        handle = h5py.File(path, "r")
    except Exception as error:  # OSError mostly; damaged headers can raise others
        raise ModelFileError(
            f"Model file {path} is not a readable HDF5 file ({_first_line(error)}).",
            "The file is truncated or corrupt; re-download the Basel Face Model.",
        ) from None
    try:
        with handle:
            return _read_model(handle, path, {"shape": shape_components, "color": texture_components})
    except ModelFileError:
        raise
    except Exception as error:
        # Cut-off or damaged bytes surface as OSError, KeyError, TypeError, UnicodeDecodeError ...
        # depending on what they hit: all mean an unreadable file.
        raise ModelFileError(
            f"Model file {path} could not be read ({_first_line(error)}).",
            "The file is truncated or corrupt; re-download the Basel Face Model.",
        ) from None


def _read_model(handle, path: Path, wanted: dict[str, int]) -> MorphableModel:
    source = str(path)
    for group in ("shape", "color"):
        if group not in handle:
            raise ModelFileError(
                f"{source}: group {group!r} is missing (found: {', '.join(sorted(handle.keys())) or 'none'}).",
                _FIX_LAYOUT,
            )
    parts: dict[str, PcaPart] = {}
    num_values: int | None = None
    for group, part_name in PART_GROUPS.items():
        if group not in handle:
            continue
        part = _read_part(handle, group, part_name, wanted.get(group, 0), num_values, source)
        num_values = part.mean.shape[0]
        parts[part_name] = part
    num_vertices = num_values // 3

    cells = _dataset(handle, "shape/representer/cells", source)
    if cells.ndim != 2 or cells.shape[0] != 3:
        raise ModelFileError(
            f"{source}: shape/representer/cells has shape {list(cells.shape)}; expected [3, T] "
            "(one column per triangle).",
            _FIX_LAYOUT,
        )
    if not np.issubdtype(cells.dtype, np.integer):
        raise ModelFileError(
            f"{source}: shape/representer/cells has dtype {cells.dtype}; expected integer vertex indices.",
            _FIX_LAYOUT,
        )
    triangles = cells.T.astype(np.int64)

    points = None
    if "shape/representer/points" in handle:
        points = _dataset(handle, "shape/representer/points", source)
        if points.shape != (3, num_vertices):
            raise ModelFileError(
                f"{source}: shape/representer/points has shape {list(points.shape)}; expected "
                f"[3, {num_vertices}] to match shape/model/mean.",
                _FIX_LAYOUT,
            )
        points = points.T.astype(np.float64)
    if points is None:
        points = parts["shape"].mean.reshape(-1, 3).astype(np.float64)
    landmarks = _read_landmarks(handle, points, source)
    check_topology(parts, triangles, landmarks, num_vertices, source)
    return MorphableModel(
        shape=parts["shape"],
        texture=parts["texture"],
        expression=parts.get("expression"),
        triangles=triangles.astype(np.int32),
        landmarks=landmarks.astype(np.int32),
        name=path.stem,
    )


def _read_part(handle, group: str, part_name: str, k: int, num_values: int | None, source: str) -> PcaPart:
    """Reads and checks one part; `num_values` is 3V from an earlier part, if any."""
    mean_key, basis_key, variance_key = (
        f"{group}/model/{name}" for name in ("mean", "pcaBasis", "pcaVariance")
    )
    mean = _dataset(handle, mean_key, source)
    expected_values = "3V" if num_values is None else str(num_values)
    if mean.ndim != 1 or mean.shape[0] % 3 != 0 or (num_values is not None and mean.shape[0] != num_values):
        raise ModelFileError(
            f"{source}: {mean_key} has shape {list(mean.shape)}; expected [{expected_values}] "
            "(x, y, z per vertex" + (", like shape/model/mean)." if num_values else ")."),
            _FIX_LAYOUT,
        )
    num_values = mean.shape[0]
    basis_dataset = _dataset(handle, basis_key, source, read=False)
    if len(basis_dataset.shape) != 2 or basis_dataset.shape[0] != num_values:
        raise ModelFileError(
            f"{source}: {basis_key} has shape {list(basis_dataset.shape)}; expected [{num_values}, k] "
            f"to match {mean_key}.",
            _FIX_LAYOUT,
        )
    available = basis_dataset.shape[1]
    if k < 0 or k > available:
        raise ModelFileError(
            f"{source}: cannot keep {k} {part_name} components: {basis_key} has shape "
            f"{list(basis_dataset.shape)}, so k is at most {available} (expected [{num_values}, >={k}]).",
            f"Set face_model.{part_name}_components between 1 and {available} (0 keeps all).",
        )
    keep = k or available
    # Slicing the dataset reads only the kept columns from disk.
    basis = np.asarray(basis_dataset[:, :keep], dtype=np.float64)
    variance = _dataset(handle, variance_key, source)
    if variance.ndim != 1 or variance.shape[0] != available:
        raise ModelFileError(
            f"{source}: {variance_key} has shape {list(variance.shape)}; expected [{available}] "
            f"(one variance per column of {basis_key}).",
            _FIX_LAYOUT,
        )
    variance = variance[:keep].astype(np.float64)
    for key, values in ((mean_key, mean), (basis_key, basis), (variance_key, variance)):
        if not np.all(np.isfinite(values)):
            bad = np.argwhere(~np.isfinite(values))[:3].tolist()
            raise ModelFileError(
                f"{source}: {key} contains NaN or infinite values (first at index {bad}).",
                "The file is corrupt; re-download the Basel Face Model.",
            )
    if np.any(variance < 0):
        raise ModelFileError(
            f"{source}: {variance_key} has negative variances (index "
            f"{np.flatnonzero(variance < 0)[:3].tolist()}); expected [{available}] values >= 0.",
            "The file is corrupt; re-download the Basel Face Model.",
        )
    return validate_part(part_name, mean, basis, np.sqrt(variance), source)


def _read_landmarks(handle, points: np.ndarray, source: str) -> np.ndarray:
    """`[L]` vertex indices from `metadata/landmarks`, or an empty array."""
    if LANDMARKS_KEY not in handle:
        return np.zeros([0], dtype=np.int64)
    node = handle[LANDMARKS_KEY]
    if hasattr(node, "keys"):  # a group: the BFM's own named landmarks as JSON
        if "json" not in node:
            raise ModelFileError(
                f"{source}: group {LANDMARKS_KEY} has no 'json' dataset; expected "
                f"{LANDMARKS_KEY}/json or an integer dataset {LANDMARKS_KEY} of shape [L].",
                _FIX_LAYOUT,
            )
        return _landmarks_from_json(node["json"][()], points, source)
    values = np.asarray(node[()])
    if values.dtype.kind in "SUO":
        return _landmarks_from_json(values, points, source)
    if values.ndim != 1 or not np.issubdtype(values.dtype, np.integer):
        raise ModelFileError(
            f"{source}: {LANDMARKS_KEY} has shape {list(values.shape)} and dtype {values.dtype}; "
            "expected [L] integer vertex indices.",
            _FIX_LAYOUT,
        )
    return values.astype(np.int64)


def _landmarks_from_json(raw, points: np.ndarray, source: str) -> np.ndarray:
    """Maps the BFM's `[{"id": ..., "coordinates": [x, y, z]}, ...]` to nearest vertices."""
    raw = np.asarray(raw).reshape(-1)[0] if np.ndim(raw) else raw
    text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
    try:
        entries = json.loads(text)
        coordinates = np.array([entry["coordinates"] for entry in entries], dtype=np.float64)
    except (ValueError, TypeError, KeyError) as error:
        raise ModelFileError(
            f"{source}: {LANDMARKS_KEY} is not a JSON list of {{'id', 'coordinates'}} entries ({error}).",
            _FIX_LAYOUT,
        ) from None
    if coordinates.size == 0:
        return np.zeros([0], dtype=np.int64)
    if coordinates.ndim != 2 or coordinates.shape[1] != 3:
        raise ModelFileError(
            f"{source}: {LANDMARKS_KEY} coordinates have shape {list(coordinates.shape)}; expected [L, 3].",
            _FIX_LAYOUT,
        )
    # One landmark at a time: a [L, V] distance matrix of the 53k-vertex BFM would be large.
    indices = [int(np.argmin(np.sum((points - coordinate) ** 2, axis=1))) for coordinate in coordinates]
    return np.asarray(indices, dtype=np.int64)


def _dataset(handle, key: str, source: str, read: bool = True):
    """The dataset at `key` (as an array if `read`), or a ModelFileError naming the key."""
    if key not in handle:
        group = key.split("/")[0]
        expected = EXPECTED_SHAPES.get(key.split("/", 1)[-1], "")
        found = f"group {group!r} has: {', '.join(_list_keys(handle[group]))}" if group in handle else ""
        raise ModelFileError(
            f"{source}: key {key!r} is missing"
            + (f"; expected a dataset of shape {expected}" if expected else "")
            + (f" ({found})." if found else "."),
            _FIX_LAYOUT,
        )
    node = handle[key]
    if not hasattr(node, "shape"):
        raise ModelFileError(f"{source}: {key!r} is a group; expected a dataset.", _FIX_LAYOUT)
    if node.dtype.kind not in "fiu":
        raise ModelFileError(
            f"{source}: {key} has dtype {node.dtype} and shape {list(node.shape)}; expected numbers.",
            _FIX_LAYOUT,
        )
    return np.asarray(node[()]) if read else node


def _list_keys(group) -> list[str]:
    names: list[str] = []
    group.visit(names.append)
    return sorted(names)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
