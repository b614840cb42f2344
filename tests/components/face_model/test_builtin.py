"""The shipped built-in head model and the code that builds it."""

from __future__ import annotations

import numpy as np
import pytest
from builtin_face_model import geometry as geo
from builtin_face_model.build import build_builtin_model

from headsynth.morphable.builtin import BUILTIN_FILE, builtin_model_path
from headsynth.morphable.loading import load_model
from headsynth.morphable.model import load_npz

TRAITS = ("sex", "age", "skin_tone", "face_width", "nose_size", "brow_thickness", "stubble", "weight")


@pytest.fixture(scope="module")
def model():
    return load_model("builtin")


def test_shipped_file_is_small_and_loads(model):
    assert builtin_model_path() == BUILTIN_FILE
    assert BUILTIN_FILE.stat().st_size <= 20e6
    assert model.num_vertices >= 5000
    assert model.shape.num_components >= 40 and model.texture.num_components >= 40
    assert model.shape.mean.dtype == np.float32 and model.triangles.dtype == np.int32


def test_head_size_units_and_centre(model):
    mean = model.shape.mean.reshape(-1, 3)
    low, high = mean.min(axis=0), mean.max(axis=0)
    np.testing.assert_allclose((low + high) / 2, 0.0, atol=1.0)  # centred at the origin
    width, height, depth = high - low
    assert 200.0 <= height <= 280.0  # head and a short neck, in millimetres
    assert 140.0 <= width <= 190.0
    assert 170.0 <= depth <= 240.0
    nose_tip = model.landmarks[30]
    assert mean[nose_tip, 2] == pytest.approx(high[2], abs=3.0)  # the face looks along +z


@pytest.mark.parametrize("part_name", ["shape", "texture", "expression"])
def test_parts_are_orthonormal_with_descending_sigma(model, part_name):
    part = getattr(model, part_name)
    assert part is not None
    assert np.all(part.sigma > 0)
    assert np.all(np.diff(part.sigma) <= 0)
    gram = part.basis.astype(np.float64).T @ part.basis.astype(np.float64)
    np.testing.assert_allclose(gram, np.eye(part.num_components), atol=1e-4)


def test_expression_is_a_displacement(model):
    assert model.expression.num_components >= 3
    np.testing.assert_array_equal(model.expression.mean, 0.0)


def test_mean_colours_are_skin_with_dark_features(model):
    colours = model.texture.mean.reshape(-1, 3)
    assert colours.min() >= 0.0 and colours.max() <= 1.0
    median = np.median(colours, axis=0)
    assert median[0] > median[1] > median[2]  # skin: red > green > blue
    eyes = model.landmarks[36:48]
    assert colours[eyes].mean() < median.mean()  # lashes and eye corners are darker than skin


def test_normals_point_out_of_the_head(model):
    """The renderer's `vertex_normals(..., clockwise=True)` must point outwards."""
    import tensorflow as tf
    from tensorflow_graphics.geometry.representation.mesh import normals

    vertices = model.shape.mean.reshape(-1, 3)
    result = normals.vertex_normals(
        tf.constant(vertices[None]), tf.constant(model.triangles[None]), clockwise=True
    ).numpy()[0]
    centre = (vertices.min(axis=0) + vertices.max(axis=0)) / 2
    outward = np.sum(result * (vertices - centre), axis=1) > 0
    assert outward.mean() > 0.995


def test_mesh_is_closed(model):
    edges = np.sort(
        np.concatenate([model.triangles[:, [0, 1]], model.triangles[:, [1, 2]], model.triangles[:, [2, 0]]]),
        1,
    )
    _, uses = np.unique(edges, axis=0, return_counts=True)
    assert np.all(uses == 2)  # every edge between exactly two triangles: no holes, no seams
    assert len(np.unique(model.triangles)) == model.num_vertices


def test_landmarks_follow_ibug_order(model):
    landmarks = model.landmarks
    assert landmarks.shape == (68,)
    assert landmarks.min() >= 0 and landmarks.max() < model.num_vertices
    assert len(np.unique(landmarks)) == 68
    p = model.shape.mean.reshape(-1, 3)[landmarks]
    x, y = p[:, 0], p[:, 1]
    # The subject's right side (image left, -x) comes first.
    assert x[0] < 0 < x[16] and x[36] < 0 < x[45] and x[48] < 0 < x[54]
    assert np.argmin(y[:17]) == 8  # the chin is the lowest jaw point
    assert y[17:27].min() > y[36:48].max()  # brows above the eyes
    assert y[36:48].min() > y[27:36].min() > y[48:68].max()  # eyes above the nose above the mouth
    assert np.argmax(p[27:36, 2]) == 3  # the nose tip sticks out most
    np.testing.assert_allclose(x[[8, 27, 28, 29, 30, 33, 51, 57, 62, 66]], 0.0, atol=1.5)  # midline


def test_population_traits_and_coefficients(model):
    population = model.population
    for key in TRAITS:
        assert key in population
    count = len(population["sex"])
    assert count >= 200
    for part_name in ("shape", "texture"):
        coefficients = population[f"{part_name}_coefficients"]
        assert coefficients.shape == (count, getattr(model, part_name).num_components)
        np.testing.assert_allclose(coefficients.mean(axis=0), 0.0, atol=0.05)
        np.testing.assert_allclose(coefficients.std(axis=0, ddof=1), 1.0, atol=0.05)


def test_population_correlations_are_plausible(model):
    population = model.population
    male = population["sex"] > 0.5
    assert 0.35 < male.mean() < 0.65
    assert population["face_width"][male].mean() > population["face_width"][~male].mean() + 0.3
    assert population["nose_size"][male].mean() > population["nose_size"][~male].mean()
    assert np.all(population["stubble"][~male] == 0)
    assert np.corrcoef(population["skin_tone"], population["hair_darkness"])[0, 1] > 0.3
    # The traits show in the geometry: men's faces are wider at the jaw.
    jaw = model.landmarks[[3, 13]]
    rows = np.concatenate([3 * jaw, 3 * jaw + 1, 3 * jaw + 2])
    shape = model.shape
    flat = shape.mean[rows] + (population["shape_coefficients"] * shape.sigma) @ shape.basis[rows].T
    width = np.abs(flat[:, 0] - flat[:, 1])
    assert width[male].mean() > width[~male].mean() + 2.0
    # ... and in the colours: darker skin, darker texture.
    texture = model.texture
    cheek = 3 * model.landmarks[2]
    red = texture.mean[cheek] + (population["texture_coefficients"] * texture.sigma) @ texture.basis[cheek]
    assert np.corrcoef(population["skin_tone"], red)[0, 1] < -0.8


def test_build_is_deterministic_and_saves_the_same_bytes(tmp_path):
    kwargs = dict(population_size=24, components=6, subdivisions=3, seed=5)
    first = build_builtin_model(**kwargs)
    second = build_builtin_model(**kwargs)
    first.save_npz(tmp_path / "a.npz")
    second.save_npz(tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    loaded = load_npz(tmp_path / "a.npz")
    assert loaded.num_vertices == 642 and loaded.shape.num_components == 6
    assert loaded.population["shape_coefficients"].shape == (24, 6)
    other = build_builtin_model(**dict(kwargs, seed=6))
    assert not np.allclose(other.shape.mean, first.shape.mean)


def test_builtin_model_rejects_too_many_components():
    with pytest.raises(ValueError, match="components"):
        build_builtin_model(population_size=10, components=10, subdivisions=2)


def test_face_points_are_frontal_and_symmetric():
    points = geo.frontal_face(geo.photo_face_points("astronaut"))
    partner = geo.mirror_pairs(points)
    np.testing.assert_allclose(points, (points * [-1, 1, 1])[partner], atol=1e-9)
    interpupillary = np.linalg.norm(points[geo.LEFT_IRIS] - points[geo.RIGHT_IRIS])
    assert interpupillary == pytest.approx(geo.INTERPUPILLARY_MM)
    assert np.argmax(points[:468, 2]) in (1, 4)  # the nose tip (mediapipe's 1 or 4) is the front-most point
    assert points[geo.FOREHEAD, 1] > points[geo.NASION, 1] > points[geo.CHIN, 1]
