"""Builds the built-in, licence-free morphable head model (`headsynth/data/builtin_face_model.npz`).

It is built the way the Basel Face Model was built, from real faces: PCA
over a population of identities gives the mean, the basis and sigma per
component. `build_builtin_model` does, deterministically in about 15 s
(plus imports):

1. Base geometry (`geometry.py`): mediapipe 0.10.21's shipped face-mesh
   model (offline, inside the wheel) measures the 478-point face meshes of
   the real faces in two public-domain portraits that installed packages
   ship: Eileen Collins (NASA; `skimage.data.astronaut()`) and Grace Hopper
   (U.S. Navy; matplotlib's sample data). Each mesh is turned frontal, made
   exactly symmetric, scaled to a 63 mm interpupillary distance and given a
   neutral expression (lips closed, mouth corners lowered, squint opened).
   Their mean is the base face; it is Loop-subdivided twice and set on a
   generated skull (cranium, jaw, neck, ears). The closed head is sampled on
   a subdivided icosahedron (10,242 vertices at subdivision 5) whose vertices
   crowd onto the face, densest at eyes, brows and lips (~2.3 mm apart on
   the face, ~5 mm on the back of the head).
2. Population (`identity.py`): `population_size` identities with
   correlated traits (sex, age, skin tone, face width, nose size, brow
   thickness, stubble, weight, hair darkness). Each identity's shape is the
   base plus about forty anatomical shape fields (head size and shape, face
   width and length, jaw, chin, nose length/width/projection/tip/nostrils,
   eye spacing/size/opening/tilt, brow ridge and brow shape, mouth and lips,
   cheeks, ears, weight, age sag) weighted by trait effects plus its own
   normal draws, the difference between the two real faces, and smooth
   random bumps. Its texture is painted per vertex: skin tone and undertone,
   regional redness, under-eye shadows, wrinkles, lips, mouth line,
   nostrils, sclera/iris/pupil, lashes, brows, stubble/moustache/beard,
   greying hair colour. Feature positions are fixed on the mesh (they move
   with the shape), so the texture PCA does not smear them.
3. PCA of the shapes and of the textures (`components` each, 50 by
   default); each basis column's sign is fixed so that its largest entry is
   positive. The population's traits and its standardised PCA coefficients
   are kept in `population` (`shape_coefficients`, `texture_coefficients`:
   `[N, k]`).
4. Expression: blendshapes (jaw open and smile, both what the
   neutralisation removed from the astronaut's smile; brows raised; mouth
   pursed/widened) made orthonormal by PCA. Its mean is zero: the renderer
   adds `basis @ (sigma * e)` to the identity.
5. 68 landmarks in iBUG order (jaw 0-16, brows 17-26, nose 27-35, eyes
   36-47, mouth 48-67): the vertices nearest to mediapipe's points for those
   positions (`geometry.IBUG68_FROM_MEDIAPIPE`).

How far identities vary was tuned with `benchmarks/face_model_realism.py`:
mediapipe's face detector finds one face in every render, and dlib's
face-recognition embedding tells identities apart across pose and light
(ROC AUC above 0.9); see that script for the figures.

`scripts/build_builtin_face_model.py` runs `build_builtin_model` and writes
`headsynth/data/builtin_face_model.npz` (float32, ~12 MB) with
`MorphableModel.save_npz`, whose fixed zip timestamps make the same code give
the same bytes. Units are millimetres; +y is up, +x the subject's left, the
face looks along +z, and the head's bounding box (head and a short neck,
~265 mm tall) is centred at the origin.
"""

from __future__ import annotations

import numpy as np

from builtin_face_model import geometry as geo
from builtin_face_model import identity as ident
from headsynth.morphable.model import MorphableModel, PcaPart

DEFAULT_SEED = 20261121


def _pca(data: np.ndarray, components: int) -> tuple[PcaPart, np.ndarray]:
    """PCA part and standardised coefficients `[N, k]` of `[N, D]` data."""
    mean = data.mean(axis=0)
    centered = data - mean
    # The Gram matrix is N x N: cheaper than an SVD of N x D when D >> N.
    gram = centered @ centered.T
    eigenvalues, eigenvectors = np.linalg.eigh(gram)
    order = np.argsort(eigenvalues)[::-1][:components]
    eigenvalues, eigenvectors = np.maximum(eigenvalues[order], 1e-12), eigenvectors[:, order]
    basis = centered.T @ eigenvectors / np.sqrt(eigenvalues)
    sigma = np.sqrt(eigenvalues / (len(data) - 1))
    # Fix each direction's sign so the build is reproducible across LAPACKs.
    signs = np.sign(basis[np.argmax(np.abs(basis), axis=0), np.arange(basis.shape[1])])
    basis = basis * signs
    coefficients = centered @ basis / sigma
    return PcaPart(mean.astype(np.float32), basis.astype(np.float32), sigma.astype(np.float32)), coefficients


def _expression_part(base, atlas, jaw: np.ndarray, smile: np.ndarray) -> PcaPart:
    """Orthonormal expression basis from blendshapes with given standard deviations."""
    fp = base.surface.points
    p = atlas.p
    eye_y = fp[geo.RIGHT_IRIS, 1]
    brow_field = np.exp(-0.5 * ((p[:, 1] - fp[105, 1]) / 9.0) ** 2) * (p[:, 1] > eye_y + 4.0) * atlas.front
    brow_field *= 1.0 - np.exp(-0.5 * (p[:, 0] / 8.0) ** 2) * 0.6
    mouth = np.exp(-0.5 * (((p[:, 0]) / 24.0) ** 2 + ((p[:, 1] - fp[13, 1]) / 10.0) ** 2)) * atlas.front
    shapes = [
        (base.transfer(geo.face_field(jaw)), 0.5),  # jaw open (10 mm at 1.0)
        (base.transfer(geo.face_field(smile)), 1.0),  # smile / corners down
        (np.stack([0 * p[:, 0], 6.0 * brow_field, 0 * p[:, 0]], axis=1), 0.8),  # brows raised / lowered
        (np.stack([-0.1 * p[:, 0] * mouth, 0 * p[:, 0], 2.5 * mouth], axis=1), 0.8),  # pursed / wide
    ]
    weighted = np.stack([s * field.reshape(-1) for field, s in shapes])  # [k, 3V]
    _, singular, vt = np.linalg.svd(weighted, full_matrices=False)
    basis = vt.T
    signs = np.sign(basis[np.argmax(np.abs(basis), axis=0), np.arange(basis.shape[1])])
    return PcaPart(
        np.zeros(weighted.shape[1], np.float32),
        (basis * signs).astype(np.float32),
        singular.astype(np.float32),
    )


def _landmark_vertices(vertices: np.ndarray, face_points: np.ndarray) -> np.ndarray:
    """`[68]` vertex indices of the iBUG landmarks, all different.

    Each is the vertex nearest to mediapipe's point for that landmark (on the
    midline, sideways distance counts four times). The closed lips' inner
    points (iBUG 61-63 and 65-67) coincide, so they are looked for 1 mm above
    and below the lip line: they part when the mouth opens.
    """
    targets = face_points[geo.IBUG68_FROM_MEDIAPIPE].copy()
    targets[61:64, 1] += 1.0
    targets[65:68, 1] -= 1.0
    distances = np.linalg.norm(vertices[None] - targets[:, None], axis=-1)
    midline = np.abs(targets[:, 0]) < 1e-6
    distances[midline] += 3.0 * np.abs(vertices[None, :, 0])
    chosen: list[int] = []
    for row in distances:
        for index in np.argsort(row, kind="stable"):
            if index not in chosen:
                chosen.append(int(index))
                break
    return np.array(chosen, dtype=np.int32)


def build_builtin_model(
    population_size: int = 400,
    components: int = 50,
    subdivisions: int = 5,
    seed: int = DEFAULT_SEED,
) -> MorphableModel:
    """Generates the built-in model deterministically (see the module docstring).

    Args:
        population_size: identities the PCA is built from.
        components: shape and texture components kept (at most population_size - 1).
        subdivisions: icosphere subdivision level of the head mesh (5: 10,242 vertices).
        seed: root seed of the population.

    Returns:
        The model, with the population's traits and standardised PCA
        coefficients in `population`.
    """

    if not 1 <= components < population_size:
        raise ValueError(f"components must be in [1, population_size). Received: {components}")
    # The base face is the mean of the real faces; their differences from it are shape fields.
    neutral_faces = {}
    for name in geo.PHOTOGRAPHS:
        neutral_faces[name], jaw_open, smiling = geo.neutral_face(
            geo.frontal_face(geo.photo_face_points(name))
        )
        if name == "astronaut":
            jaw, smile = jaw_open, smiling
    mean_face = np.mean(list(neutral_faces.values()), axis=0)
    base = geo.BaseHead(geo.HeadSurface(mean_face), subdivisions=subdivisions)
    real_faces = {
        f"real_face_{name}": base.transfer(geo.face_field(face - mean_face))
        for name, face in neutral_faces.items()
    }
    # With two faces the two differences are opposite: keep one.
    real_faces = dict(list(real_faces.items())[1:])
    atlas = ident.FaceAtlas(base, real_faces)
    rng = np.random.default_rng(seed)
    traits = ident.sample_traits(population_size, rng)
    shapes, textures = [], []
    for i in range(population_size):
        identity_traits = {key: float(values[i]) for key, values in traits.items()}
        identity_rng = np.random.default_rng([seed, i])
        shapes.append(atlas.shape(atlas.shape_coefficients(identity_traits, identity_rng)).reshape(-1))
        textures.append(atlas.texture(identity_traits, identity_rng).reshape(-1))
    centre = (base.vertices.min(axis=0) + base.vertices.max(axis=0)) / 2.0
    shapes_array = np.asarray(shapes) - np.tile(centre, len(base.vertices))
    shape, shape_coefficients = _pca(shapes_array, components)
    texture, texture_coefficients = _pca(np.asarray(textures), components)
    landmarks = _landmark_vertices(base.vertices, base.surface.points)
    population = {key: values.astype(np.float32) for key, values in traits.items()}
    population["shape_coefficients"] = shape_coefficients.astype(np.float32)
    population["texture_coefficients"] = texture_coefficients.astype(np.float32)
    return MorphableModel(
        shape=shape,
        texture=texture,
        triangles=base.triangles.astype(np.int32),
        landmarks=landmarks,
        name="headsynth-builtin",
        expression=_expression_part(base, atlas, jaw, smile),
        population=population,
    )
