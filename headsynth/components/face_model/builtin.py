"""The built-in, licence-free morphable head model, and the code that makes it.

The model is built the way the Basel Face Model was built: a population of
identities is generated, then PCA over the population gives the mean, the
basis and sigma per component. Here the identities come from a procedural
head (an ellipsoid with nose, eye sockets, brow ridge, lips, chin and ears)
deformed by traits that correlate like real ones (sex, age, skin tone, face
width, nose size, brows, stubble) plus smooth random variation. The trait
labels are kept with the population so sex/age analyses and a conditional
GAN can use them.

`scripts/build_builtin_face_model.py` runs `build_builtin_model` and writes
`headsynth/data/builtin_face_model.npz`; the build is deterministic.
Units are millimetres; +y is up and the face looks along +z.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from headsynth.components.face_model.morphable_model import MorphableModel, PcaPart
from headsynth.errors import ModelFileError

BUILTIN_FILE = Path(__file__).resolve().parents[2] / "data" / "builtin_face_model.npz"
HEAD_SEMI_AXES_MM = np.array([75.0, 100.0, 92.0])


def builtin_model_path() -> Path:
    """Path of the shipped built-in model file.

    Raises:
        ModelFileError: if the file is missing (a broken checkout).
    """
    if not BUILTIN_FILE.exists():
        raise ModelFileError(
            f"The built-in face model {BUILTIN_FILE} is missing.",
            "Regenerate it with `python scripts/build_builtin_face_model.py`.",
        )
    return BUILTIN_FILE


# Mesh ----------------------------------------------------------------------


def icosphere(subdivisions: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit icosphere: `[V, 3]` vertices and `[T, 3]` counter-clockwise triangles."""
    t = (1.0 + 5.0**0.5) / 2.0
    vertices = [
        (-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0),
        (0, -1, t), (0, 1, t), (0, -1, -t), (0, 1, -t),
        (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1),
    ]  # fmt: skip
    faces = [
        (0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11),
        (1, 5, 9), (5, 11, 4), (11, 10, 2), (10, 7, 6), (7, 1, 8),
        (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8), (3, 8, 9),
        (4, 9, 5), (2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1),
    ]  # fmt: skip
    verts = [np.array(v, dtype=np.float64) / np.linalg.norm(v) for v in vertices]
    for _ in range(subdivisions):
        midpoint_cache: dict[tuple[int, int], int] = {}

        def midpoint(a: int, b: int) -> int:
            key = (min(a, b), max(a, b))
            if key not in midpoint_cache:
                m = verts[a] + verts[b]
                verts.append(m / np.linalg.norm(m))
                midpoint_cache[key] = len(verts) - 1
            return midpoint_cache[key]

        new_faces = []
        for a, b, c in faces:
            ab, bc, ca = midpoint(a, b), midpoint(b, c), midpoint(c, a)
            new_faces += [(a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca)]
        faces = new_faces
    return np.array(verts), np.array(faces, dtype=np.int32)


def _bump(directions: np.ndarray, center, widths) -> np.ndarray:
    """Anisotropic Gaussian of the angular offset from `center` (per-axis widths)."""
    center = np.asarray(center, dtype=np.float64)
    center = center / np.linalg.norm(center)
    offset = directions - center
    widths = np.broadcast_to(np.asarray(widths, dtype=np.float64), (3,))
    return np.exp(-0.5 * np.sum((offset / widths) ** 2, axis=-1))


class _Features:
    """Feature fields over the unit-sphere directions of the base mesh."""

    def __init__(self, d: np.ndarray) -> None:
        self.d = d
        eyes = [(s * 0.34, 0.22, 0.92) for s in (-1, 1)]
        self.nose = _bump(d, (0, -0.02, 1), (0.10, 0.17, 0.3))
        self.nose_tip = _bump(d, (0, -0.12, 1), (0.07, 0.06, 0.3))
        self.eye_socket = sum(_bump(d, e, (0.11, 0.08, 0.3)) for e in eyes)
        self.eyeball = sum(_bump(d, e, (0.075, 0.05, 0.3)) for e in eyes)
        self.iris = sum(_bump(d, e, (0.03, 0.03, 0.3)) for e in eyes)
        self.brow_ridge = sum(_bump(d, (s * 0.3, 0.38, 0.87), (0.14, 0.05, 0.3)) for s in (-1, 1))
        self.brows = sum(_bump(d, (s * 0.33, 0.36, 0.87), (0.12, 0.025, 0.3)) for s in (-1, 1))
        self.lips = _bump(d, (0, -0.42, 0.9), (0.14, 0.045, 0.3))
        self.mouth_line = _bump(d, (0, -0.42, 0.9), (0.13, 0.008, 0.3))
        self.nostrils = sum(_bump(d, (s * 0.06, -0.22, 0.97), (0.02, 0.015, 0.3)) for s in (-1, 1))
        self.chin = _bump(d, (0, -0.72, 0.7), (0.16, 0.1, 0.3))
        self.jaw = sum(_bump(d, (s * 0.7, -0.55, 0.45), (0.15, 0.15, 0.2)) for s in (-1, 1))
        self.cheeks = sum(_bump(d, (s * 0.55, -0.1, 0.8), (0.14, 0.14, 0.3)) for s in (-1, 1))
        self.ears = sum(_bump(d, (s, 0.05, -0.08), (0.3, 0.1, 0.08)) for s in (-1, 1))
        self.stubble = np.clip(
            _bump(d, (0, -0.6, 0.8), (0.5, 0.25, 0.5)) - 1.5 * self.lips - self.nose, 0, 1
        )
        self.scalp = np.clip((d[:, 1] - 0.45) * 4 + np.clip(-d[:, 2] - 0.2, 0, 1) * 2 * (d[:, 1] > -0.2), 0, 1)
        self.front = np.clip(d[:, 2], 0, 1)


def _identity(features: _Features, traits: dict[str, float], rng: np.random.Generator):
    """Vertex positions `[V, 3]` and colours `[V, 3]` of one identity."""
    f = features
    d = f.d
    male = traits["sex"]
    age01 = (traits["age"] - 18.0) / 62.0
    axes = HEAD_SEMI_AXES_MM * (1.0 + 0.04 * male) * np.array(
        [1.0 + 0.06 * traits["face_width"], 1.0, 1.0]
    )
    radial = (
        25.0 * (1.0 + 0.25 * traits["nose_size"]) * f.nose
        + 6.0 * (1.0 + 0.3 * traits["nose_size"]) * f.nose_tip
        - 11.0 * f.eye_socket
        + 4.0 * f.eyeball
        + (4.0 + 3.0 * male) * f.brow_ridge
        + (6.0 - 1.5 * male) * f.lips
        - 2.0 * f.mouth_line
        - 4.0 * f.nostrils
        + (8.0 + 4.0 * male) * f.chin
        + (4.0 + 5.0 * male + 2.0 * traits["face_width"]) * f.jaw
        + (3.0 - 3.0 * age01 + 1.5 * (1 - male)) * f.cheeks
        + 16.0 * f.ears
    )
    # Smooth individual variation: a handful of random broad bumps.
    for _ in range(8):
        center = rng.normal(size=3)
        center[2] = abs(center[2])
        radial = radial + rng.normal(0, 3.0) * _bump(d, center, rng.uniform(0.2, 0.5))
    vertices = d * axes + d * radial[:, None]
    # Age sags the lower face slightly.
    vertices[:, 1] -= 3.0 * age01 * np.clip(-d[:, 1], 0, 1) * f.front

    tone = traits["skin_tone"]
    skin = np.array([0.93, 0.74, 0.62]) * (1 - tone) + np.array([0.42, 0.27, 0.18]) * tone
    skin = skin * (1.0 + rng.normal(0, 0.03, size=3))
    colors = np.tile(skin, (len(d), 1))
    blush = np.array([0.08, -0.02, -0.02]) * (1 - 0.5 * tone)
    colors += f.cheeks[:, None] * blush * (1 - male * 0.5)
    lip_color = skin * np.array([0.85, 0.55, 0.55]) * (1 - 0.15 * male)
    colors = _mix(colors, lip_color, np.clip(1.6 * f.lips, 0, 1))
    colors = _mix(colors, np.array([0.25, 0.08, 0.08]), np.clip(1.5 * f.mouth_line, 0, 1))
    colors = _mix(colors, np.array([0.12, 0.07, 0.06]), np.clip(2.5 * f.nostrils, 0, 1))
    sclera = np.array([0.92, 0.9, 0.86])
    colors = _mix(colors, sclera, np.clip(3.0 * f.eyeball - 0.8, 0, 1))
    iris_rgb = rng.choice([[0.25, 0.15, 0.08], [0.2, 0.35, 0.55], [0.3, 0.4, 0.25]], p=[0.6, 0.25, 0.15])
    colors = _mix(colors, np.asarray(iris_rgb) * 0.7, np.clip(3.0 * f.iris - 1.0, 0, 1))
    colors = _mix(colors, np.array([0.02, 0.02, 0.02]), np.clip(6.0 * f.iris - 5.0, 0, 1))
    hair_rgb = np.array([0.18, 0.12, 0.08]) * (1 - age01 * 0.3) + np.array([0.55, 0.55, 0.55]) * age01**2
    brow_strength = np.clip(0.55 + 0.25 * traits["brow_thickness"], 0.1, 1.0)
    colors = _mix(colors, hair_rgb, np.clip(2.0 * f.brows * brow_strength, 0, 1))
    colors = _mix(colors, hair_rgb * 0.9, np.clip(f.stubble * 1.3 * traits["stubble"], 0, 0.85))
    colors = _mix(colors, skin * 0.9, 0.5 * f.scalp[:, None] * np.ones(3))
    # Smooth individual pigmentation.
    for _ in range(5):
        center = rng.normal(size=3)
        colors = colors + rng.normal(0, 0.03, size=3) * _bump(d, center, rng.uniform(0.2, 0.6))[:, None]
    return vertices, np.clip(colors, 0.0, 1.0)


def _mix(colors: np.ndarray, target, weight) -> np.ndarray:
    weight = np.asarray(weight, dtype=np.float64)
    if weight.ndim == 1:
        weight = weight[:, None]
    return colors * (1 - weight) + np.asarray(target, dtype=np.float64) * weight


def sample_traits(count: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draws correlated identity traits like a real population's.

    Men have wider faces, larger noses and thicker brows on average; only men
    have stubble; noses grow slightly with age.
    """
    sex = (rng.uniform(size=count) < 0.5).astype(np.float64)  # 1 = male
    age = rng.uniform(18, 80, size=count)
    skin_tone = rng.beta(2.0, 3.0, size=count)
    face_width = rng.normal(0.5 * sex - 0.25, 0.8)
    nose_size = rng.normal(0.5 * sex - 0.25 + 0.4 * (age - 49) / 31, 0.8)
    brow_thickness = rng.normal(0.8 * sex - 0.4, 0.7)
    stubble = sex * (rng.uniform(size=count) < 0.5) * rng.uniform(0.4, 1.0, size=count)
    return {
        "sex": sex,
        "age": age,
        "skin_tone": skin_tone,
        "face_width": face_width,
        "nose_size": nose_size,
        "brow_thickness": brow_thickness,
        "stubble": stubble,
    }


def _pca(data: np.ndarray, components: int) -> tuple[PcaPart, np.ndarray]:
    mean = data.mean(axis=0)
    centered = data - mean
    _, singular_values, vt = np.linalg.svd(centered, full_matrices=False)
    basis = vt[:components].T
    sigma = singular_values[:components] / np.sqrt(len(data) - 1)
    # Fix each direction's sign so the build is reproducible across LAPACKs.
    signs = np.sign(basis[np.argmax(np.abs(basis), axis=0), np.arange(basis.shape[1])])
    basis = basis * signs
    coefficients = centered @ basis / sigma
    return PcaPart(mean.astype(np.float32), basis.astype(np.float32), sigma.astype(np.float32)), coefficients


# 68 iBUG-style landmarks, placed as frontal (x, y) directions on the unit sphere.
def _landmark_directions() -> np.ndarray:
    jaw = [(0.78 * np.sin(a), -0.7 * np.cos(a)) for a in np.linspace(-1.3, 1.3, 17)]
    brows = [(x, 0.36 + 0.03 * np.cos((x - s * 0.33) * 8)) for s in (-1, 1) for x in np.linspace(s * 0.33 - 0.15, s * 0.33 + 0.15, 5)]
    nose_bridge = [(0.0, y) for y in np.linspace(0.2, -0.08, 4)]
    nose_base = [(x, -0.2) for x in np.linspace(-0.1, 0.1, 5)]
    eyes = []
    for s in (-1, 1):
        cx, cy = s * 0.34, 0.22
        eyes += [(cx + 0.08 * np.cos(a), cy + 0.03 * np.sin(a)) for a in np.linspace(np.pi, -np.pi, 7)[:6]]
    mouth_outer = [(0.16 * np.cos(a), -0.42 + 0.05 * np.sin(a)) for a in np.linspace(np.pi, -np.pi, 13)[:12]]
    mouth_inner = [(0.1 * np.cos(a), -0.42 + 0.01 * np.sin(a)) for a in np.linspace(np.pi, -np.pi, 9)[:8]]
    xy = np.array(jaw + brows + nose_bridge + nose_base + eyes + mouth_outer + mouth_inner)
    z = np.sqrt(np.clip(1 - np.sum(xy**2, axis=1), 0.05, 1))
    directions = np.concatenate([xy, z[:, None]], axis=1)
    return directions / np.linalg.norm(directions, axis=1, keepdims=True)


def build_builtin_model(
    population_size: int = 400,
    components: int = 40,
    subdivisions: int = 4,
    seed: int = 20261121,
) -> MorphableModel:
    """Generates the built-in model deterministically.

    Args:
        population_size: identities the PCA is built from.
        components: shape and texture components kept.
        subdivisions: icosphere subdivision level of the base mesh.
        seed: root seed of the population.

    Returns:
        The model, with the population's traits and standardized PCA
        coefficients in `population`.
    """
    directions, triangles = icosphere(subdivisions)
    features = _Features(directions)
    rng = np.random.default_rng(seed)
    traits = sample_traits(population_size, rng)
    shapes, textures = [], []
    for i in range(population_size):
        identity_traits = {key: float(values[i]) for key, values in traits.items()}
        vertices, colors = _identity(features, identity_traits, np.random.default_rng([seed, i]))
        shapes.append(vertices.reshape(-1))
        textures.append(colors.reshape(-1))
    shape, shape_coefficients = _pca(np.asarray(shapes), components)
    texture, texture_coefficients = _pca(np.asarray(textures), components)
    mean_vertices = shape.mean.reshape(-1, 3)
    landmark_dirs = _landmark_directions()
    unit = mean_vertices / np.linalg.norm(mean_vertices, axis=1, keepdims=True)
    landmarks = np.argmax(landmark_dirs @ unit.T, axis=1).astype(np.int32)
    population = {key: values.astype(np.float32) for key, values in traits.items()}
    population["shape_coefficients"] = shape_coefficients.astype(np.float32)
    population["texture_coefficients"] = texture_coefficients.astype(np.float32)
    return MorphableModel(
        shape=shape,
        texture=texture,
        triangles=triangles,
        landmarks=landmarks,
        name="headsynth-builtin",
        population=population,
    )
