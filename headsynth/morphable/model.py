"""The PCA morphable model: one in-memory form, several file formats.

A model has a shape part and a texture part (an expression part is optional),
each a mean, an orthonormal basis and a standard deviation per component, plus
the triangles and the landmark vertex indices. Per-vertex values are stored
flattened as `[x0, y0, z0, x1, ...]` (length 3V), as the Basel Face Model does.

Parameters: a network's target is the *unscaled* vector q; the coefficients
applied to the basis are p = scale * sigma * q (the paper's rule, scale 1.6).

The `.npz` format (see `save_npz`) holds, with V vertices and k components:
    shape_mean [3V] float32, shape_basis [3V, k] float32, shape_sigma [k] float32
    texture_mean, texture_basis, texture_sigma likewise (colours in [0, 1])
    expression_mean, expression_basis, expression_sigma (optional)
    triangles [T, 3] int32, landmarks [L] int32, name () str
and optionally population arrays (`population_*`) describing the identities
the PCA was built from.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from headsynth.core.errors import ModelFileError, ParameterError
from headsynth.core.io_utils import load_npz_arrays, save_npz


@dataclass(frozen=True)
class PcaPart:
    """One PCA part: x = mean + basis @ p.

    Attributes:
        mean: `[3V]` mean of the part.
        basis: `[3V, k]` orthonormal principal directions.
        sigma: `[k]` standard deviation along each direction.
    """

    mean: np.ndarray
    basis: np.ndarray
    sigma: np.ndarray

    @property
    def num_components(self) -> int:
        return int(self.sigma.shape[0])

    def truncated(self, k: int) -> PcaPart:
        """Keeps the first k components (k=0 keeps all)."""
        if k == 0:
            return self
        return PcaPart(self.mean, self.basis[:, :k], self.sigma[:k])

    def reconstruct(self, coefficients: np.ndarray) -> np.ndarray:
        """Returns `[..., V, 3]` values for `[..., k]` coefficients p (already scaled)."""
        flat = self.mean + coefficients @ self.basis.T
        return flat.reshape(*flat.shape[:-1], -1, 3)


@dataclass(frozen=True)
class MorphableModel:
    """A shape + texture (+ optional expression) PCA model of a face or head."""

    shape: PcaPart
    texture: PcaPart
    triangles: np.ndarray
    landmarks: np.ndarray
    name: str = "model"
    expression: PcaPart | None = None
    population: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def num_vertices(self) -> int:
        return int(self.shape.mean.shape[0] // 3)

    @property
    def num_parameters(self) -> int:
        """Width m of the regression target q (shape then texture)."""
        return self.shape.num_components + self.texture.num_components

    def truncated(self, shape_components: int = 0, texture_components: int = 0) -> MorphableModel:
        """Returns the model keeping the first k components of each part (0 keeps all).

        Raises:
            ModelFileError: if k is larger than the part has.
        """
        for part_name, k, part in (
            ("shape", shape_components, self.shape),
            ("texture", texture_components, self.texture),
        ):
            if k < 0 or k > part.num_components:
                raise ModelFileError(
                    f"Cannot keep {k} {part_name} components: model {self.name!r} has {part.num_components}.",
                    f"Set face_model.{part_name}_components between 1 and {part.num_components} "
                    "(0 keeps all).",
                )
        return dataclasses.replace(
            self,
            shape=self.shape.truncated(shape_components),
            texture=self.texture.truncated(texture_components),
        )

    def split(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Splits `[..., m]` q into its shape and texture parts."""
        q = np.asarray(q)
        if q.shape[-1] != self.num_parameters:
            raise ParameterError(
                f"Parameter vectors have width {q.shape[-1]}, but model {self.name!r} "
                f"takes {self.num_parameters} ({self.shape.num_components} shape + "
                f"{self.texture.num_components} texture).",
                "Use vectors sampled for this model, or truncate the model to match.",
            )
        k = self.shape.num_components
        return q[..., :k], q[..., k:]

    def vertices(self, q: np.ndarray, scale: float = 1.6) -> np.ndarray:
        """`[..., V, 3]` vertex positions for unscaled parameters `[..., m]`."""
        q_shape, _ = self.split(q)
        return self.shape.reconstruct(scale * self.shape.sigma * q_shape).astype(np.float32)

    def colors(self, q: np.ndarray, scale: float = 1.6) -> np.ndarray:
        """`[..., V, 3]` per-vertex RGB in [0, 1] for unscaled parameters `[..., m]`."""
        _, q_texture = self.split(q)
        rgb = self.texture.reconstruct(scale * self.texture.sigma * q_texture)
        return np.clip(rgb, 0.0, 1.0).astype(np.float32)

    def summary(self) -> str:
        """A few human-readable lines describing the model."""
        lines = [
            f"model {self.name!r}: {self.num_vertices} vertices, {len(self.triangles)} triangles, "
            f"{len(self.landmarks)} landmarks",
            f"  shape:   {self.shape.num_components} components, sigma "
            f"{self.shape.sigma[0]:.3g} .. {self.shape.sigma[-1]:.3g}",
            f"  texture: {self.texture.num_components} components, sigma "
            f"{self.texture.sigma[0]:.3g} .. {self.texture.sigma[-1]:.3g}",
        ]
        if self.expression is not None:
            lines.append(f"  expression: {self.expression.num_components} components")
        if self.population:
            n = len(next(iter(self.population.values())))
            lines.append(f"  population: {n} identities with {', '.join(sorted(self.population))}")
        return "\n".join(lines)

    # Files -----------------------------------------------------------------

    def save_npz(self, path: str | os.PathLike) -> None:
        """Writes the model in the documented `.npz` format, atomically."""
        arrays: dict[str, np.ndarray] = {
            "triangles": self.triangles.astype(np.int32),
            "landmarks": self.landmarks.astype(np.int32),
            "name": np.array(self.name),
        }
        parts = {"shape": self.shape, "texture": self.texture}
        if self.expression is not None:
            parts["expression"] = self.expression
        for part_name, part in parts.items():
            arrays[f"{part_name}_mean"] = part.mean.astype(np.float32)
            arrays[f"{part_name}_basis"] = part.basis.astype(np.float32)
            arrays[f"{part_name}_sigma"] = part.sigma.astype(np.float32)
        for key, values in self.population.items():
            arrays[f"population_{key}"] = values
        save_npz(path, compress=True, **arrays)


def _require(arrays, key: str, path: Path) -> np.ndarray:
    if key not in arrays:
        raise ModelFileError(
            f"Model file {path} has no array {key!r}.",
            "A headsynth .npz model needs shape_*/texture_* mean, basis, sigma, triangles "
            "and landmarks (see headsynth.morphable.model).",
        )
    return np.asarray(arrays[key])


def validate_part(part_name: str, mean, basis, sigma, source: str) -> PcaPart:
    """Checks one PCA part's shapes and values and returns it as float32.

    Raises:
        ModelFileError: naming the key and the expected shape.
    """
    mean = np.asarray(mean, dtype=np.float64)
    basis = np.asarray(basis, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    if mean.ndim != 1 or mean.shape[0] % 3 != 0:
        raise ModelFileError(
            f"{source}: {part_name} mean has shape {mean.shape}; expected [3V] (x, y, z per vertex).",
            "Check that the file is a morphable model.",
        )
    if basis.ndim != 2 or basis.shape[0] != mean.shape[0]:
        raise ModelFileError(
            f"{source}: {part_name} basis has shape {basis.shape}; expected [{mean.shape[0]}, k] "
            f"to match the mean.",
            "Check that the file is a morphable model.",
        )
    if sigma.ndim != 1 or sigma.shape[0] != basis.shape[1]:
        raise ModelFileError(
            f"{source}: {part_name} sigma has shape {sigma.shape}; expected [{basis.shape[1]}] "
            "(one per basis column).",
            "Check that the file is a morphable model.",
        )
    for label, values in (("mean", mean), ("basis", basis), ("sigma", sigma)):
        if not np.all(np.isfinite(values)):
            raise ModelFileError(
                f"{source}: {part_name} {label} contains NaN or infinite values.",
                "The file is corrupt; regenerate or re-download it.",
            )
    if np.any(sigma < 0):
        raise ModelFileError(f"{source}: {part_name} sigma has negative entries.", "The file is corrupt.")
    return PcaPart(mean.astype(np.float32), basis.astype(np.float32), sigma.astype(np.float32))


def load_npz(path: str | os.PathLike) -> MorphableModel:
    """Loads a model in headsynth's `.npz` format.

    Raises:
        ModelFileError: if the file is missing, not a zip, or inconsistent.
    """
    path = Path(path) if "://" not in str(path) else path
    if not tf.io.gfile.exists(str(path)):
        raise ModelFileError(f"Model file {path} does not exist.", "Check face_model.source.")
    try:
        contents = load_npz_arrays(path)
    except Exception as error:
        # Damaged bytes surface as BadZipFile, zlib.error, NotImplementedError, TokenError,
        # ValueError ... depending on where they are: all mean an unreadable file.
        raise ModelFileError(
            f"Model file {path} is not a readable .npz archive ({error}).",
            "The file is truncated or corrupt; regenerate or re-download it.",
        ) from None
    parts = {}
    for part_name in ("shape", "texture", "expression"):
        if part_name == "expression" and "expression_mean" not in contents:
            continue
        parts[part_name] = validate_part(
            part_name,
            _require(contents, f"{part_name}_mean", path),
            _require(contents, f"{part_name}_basis", path),
            _require(contents, f"{part_name}_sigma", path),
            str(path),
        )
    triangles = _require(contents, "triangles", path).astype(np.int64)
    landmarks = _require(contents, "landmarks", path).astype(np.int64)
    num_vertices = parts["shape"].mean.shape[0] // 3
    check_topology(parts, triangles, landmarks, num_vertices, str(path))
    population = {
        key[len("population_") :]: contents[key] for key in contents if key.startswith("population_")
    }
    name = str(contents["name"]) if "name" in contents else path.stem
    return MorphableModel(
        shape=parts["shape"],
        texture=parts["texture"],
        expression=parts.get("expression"),
        triangles=triangles.astype(np.int32),
        landmarks=landmarks.astype(np.int32),
        name=name,
        population=population,
    )


def check_topology(parts, triangles, landmarks, num_vertices: int, source: str) -> None:
    """Checks that all parts, triangles and landmarks agree on the vertex count."""
    for part_name, part in parts.items():
        if part.mean.shape[0] != 3 * num_vertices:
            raise ModelFileError(
                f"{source}: {part_name} mean has {part.mean.shape[0]} values; expected "
                f"{3 * num_vertices} (3 x {num_vertices} vertices, like the shape mean).",
                "The parts of the model do not belong together.",
            )
    if triangles.ndim != 2 or triangles.shape[1] != 3:
        raise ModelFileError(f"{source}: triangles have shape {triangles.shape}; expected [T, 3].")
    if triangles.size and (triangles.min() < 0 or triangles.max() >= num_vertices):
        raise ModelFileError(
            f"{source}: triangles index vertices outside 0..{num_vertices - 1}.",
            "The triangle list does not belong to this mesh.",
        )
    if landmarks.ndim != 1 or (landmarks.size and (landmarks.min() < 0 or landmarks.max() >= num_vertices)):
        raise ModelFileError(f"{source}: landmarks must be [L] vertex indices below {num_vertices}.")
