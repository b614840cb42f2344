"""Writes one head of a morphable model as a coloured mesh (`.obj` or `.ply`).

`.obj` carries per-vertex colour as `v x y z r g b` (r, g, b in [0, 1]), the
extension MeshLab, Blender and Open3D read. `.ply` is ASCII or binary
little-endian with `red green blue` as uchar. Triangles keep the model's
vertex order; coordinates are the model's (millimetres).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from headsynth.core.errors import ParameterError
from headsynth.core.io_utils import atomic_path
from headsynth.morphable.model import MorphableModel

MESH_SUFFIXES = (".obj", ".ply")


def export_mesh(
    model: MorphableModel,
    q: np.ndarray,
    path: str | os.PathLike,
    scale: float = 1.6,
    binary: bool = True,
) -> None:
    """Writes the head for unscaled parameters q as a mesh, atomically.

    Args:
        model: the morphable model.
        q: `[m]` (or `[1, m]`) unscaled parameters; p = scale * sigma * q.
        path: a `.obj` or `.ply` file.
        scale: the parameter scale (1.6 as in the paper; 1.0 makes q sigma units).
        binary: for `.ply`, binary little-endian (True) or ASCII (False).

    Raises:
        ParameterError: if q is not one vector of the model's width or not finite.
        ValueError: for a suffix other than .obj or .ply.
    """
    suffix = Path(os.fspath(path)).suffix.lower()
    if suffix not in MESH_SUFFIXES:
        raise ValueError(f"Mesh files must end in .obj or .ply. Received: {os.fspath(path)}")
    q = np.asarray(q, dtype=np.float64)
    if q.ndim == 2 and q.shape[0] == 1:
        q = q[0]
    if q.ndim != 1:
        raise ParameterError(
            f"export_mesh takes one parameter vector [m]; received shape {list(q.shape)}.",
            "Export one head at a time.",
        )
    if not np.all(np.isfinite(q)):
        raise ParameterError("The parameter vector contains NaN or infinite values.")
    vertices = model.vertices(q, scale)  # raises ParameterError for the wrong width
    colors = model.colors(q, scale)
    if suffix == ".obj":
        data = _obj_bytes(vertices, colors, model.triangles, model.name)
    elif binary:
        data = _ply_binary_bytes(vertices, colors, model.triangles)
    else:
        data = _ply_ascii_bytes(vertices, colors, model.triangles)
    with atomic_path(path) as tmp:
        with tf.io.gfile.GFile(tmp, "wb") as f:
            f.write(data)


def _obj_bytes(vertices: np.ndarray, colors: np.ndarray, triangles: np.ndarray, name: str) -> bytes:
    out = io.StringIO()
    out.write(f"# headsynth mesh of model {name!r}: {len(vertices)} vertices, {len(triangles)} faces\n")
    np.savetxt(out, np.concatenate([vertices, colors], axis=1), fmt="v %.6f %.6f %.6f %.6f %.6f %.6f")
    np.savetxt(out, triangles.astype(np.int64) + 1, fmt="f %d %d %d")  # OBJ indices start at 1
    return out.getvalue().encode("ascii")


def _ply_header(num_vertices: int, num_faces: int, fmt: str) -> str:
    return (
        f"ply\nformat {fmt} 1.0\ncomment headsynth morphable model mesh\n"
        f"element vertex {num_vertices}\nproperty float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\n"
        f"element face {num_faces}\nproperty list uchar int vertex_indices\nend_header\n"
    )


def _to_uchar(colors: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(colors * 255.0), 0, 255).astype(np.uint8)


def _ply_ascii_bytes(vertices: np.ndarray, colors: np.ndarray, triangles: np.ndarray) -> bytes:
    out = io.StringIO()
    out.write(_ply_header(len(vertices), len(triangles), "ascii"))
    rgb = _to_uchar(colors)
    for (x, y, z), (r, g, b) in zip(vertices, rgb, strict=True):
        out.write(f"{x:.6f} {y:.6f} {z:.6f} {r} {g} {b}\n")
    np.savetxt(out, triangles.astype(np.int64), fmt="3 %d %d %d")
    return out.getvalue().encode("ascii")


def _ply_binary_bytes(vertices: np.ndarray, colors: np.ndarray, triangles: np.ndarray) -> bytes:
    vertex_type = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("r", "u1"), ("g", "u1"), ("b", "u1")])
    vertex_records = np.empty(len(vertices), dtype=vertex_type)
    for i, axis in enumerate("xyz"):
        vertex_records[axis] = vertices[:, i]
    for i, channel in enumerate(_to_uchar(colors).T):
        vertex_records["rgb"[i]] = channel
    face_type = np.dtype([("n", "u1"), ("indices", "<i4", (3,))])
    face_records = np.empty(len(triangles), dtype=face_type)
    face_records["n"] = 3
    face_records["indices"] = triangles
    header = _ply_header(len(vertices), len(triangles), "binary_little_endian").encode("ascii")
    return header + vertex_records.tobytes() + face_records.tobytes()
