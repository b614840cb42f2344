"""Model outputs: mesh export (.obj, .ply) and the `headsynth model` sheets and summary."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from headsynth.cli import model_command
from headsynth.components.evaluation import inspect_model
from headsynth.components.face_model.export import export_mesh
from headsynth.components.sampling.samplers import sample_parameters
from headsynth.core.errors import ParameterError
from headsynth.morphable.loading import load_model

# Meshes -----------------------------------------------------------------------


def parse_obj(path) -> tuple[np.ndarray, np.ndarray]:
    """`[V, 6]` (x y z r g b) and `[T, 3]` 0-based faces of an OBJ with vertex colours."""
    vertices, faces = [], []
    for line in path.read_text().splitlines():
        if line.startswith("v "):
            vertices.append([float(v) for v in line.split()[1:]])
        elif line.startswith("f "):
            faces.append([int(v) - 1 for v in line.split()[1:]])
    return np.array(vertices), np.array(faces)


def parse_ply(path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions `[V, 3]`, colours `[V, 3]` uint8 and faces `[T, 3]` of our PLY layout."""
    data = path.read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode("ascii").splitlines()
    num_vertices = int(next(line for line in header if line.startswith("element vertex")).split()[-1])
    num_faces = int(next(line for line in header if line.startswith("element face")).split()[-1])
    body = data[end:]
    if "format ascii 1.0" in header:
        rows = body.decode("ascii").splitlines()
        vertex_rows = np.array([row.split() for row in rows[:num_vertices]], dtype=np.float64)
        face_rows = np.array([row.split() for row in rows[num_vertices:]], dtype=np.int64)
        assert len(face_rows) == num_faces and np.all(face_rows[:, 0] == 3)
        return vertex_rows[:, :3], vertex_rows[:, 3:].astype(np.uint8), face_rows[:, 1:]
    assert "format binary_little_endian 1.0" in header
    vertex_type = np.dtype([("xyz", "<f4", (3,)), ("rgb", "u1", (3,))])
    face_type = np.dtype([("n", "u1"), ("indices", "<i4", (3,))])
    vertex_bytes = num_vertices * vertex_type.itemsize
    assert len(body) == vertex_bytes + num_faces * face_type.itemsize
    records = np.frombuffer(body[:vertex_bytes], vertex_type)
    faces = np.frombuffer(body[vertex_bytes:], face_type)
    assert np.all(faces["n"] == 3)
    return records["xyz"].astype(np.float64), records["rgb"], faces["indices"]


@pytest.fixture(scope="module")
def head(small_model):
    """Parameters big enough that some colours clip, and the expected geometry and colours."""
    q = np.random.default_rng(0).normal(0.0, 2.0, size=small_model.num_parameters)
    q[small_model.shape.num_components] = 3.0  # the first texture component pushes colours to the limit
    return q, small_model.vertices(q, 1.6), small_model.colors(q, 1.6)


def test_obj_round_trip(tmp_path, small_model, head):
    q, vertices, colors = head
    export_mesh(small_model, q, tmp_path / "head.obj")
    parsed, faces = parse_obj(tmp_path / "head.obj")
    assert parsed.shape == (small_model.num_vertices, 6)
    np.testing.assert_allclose(parsed[:, :3], vertices, atol=1e-4)
    np.testing.assert_allclose(parsed[:, 3:], colors, atol=1e-6)
    assert parsed[:, 3:].min() >= 0.0 and parsed[:, 3:].max() <= 1.0
    np.testing.assert_array_equal(faces, small_model.triangles)
    assert not list(tmp_path.glob(".tmp-*"))


@pytest.mark.parametrize("binary", [True, False])
def test_ply_round_trip(tmp_path, small_model, head, binary):
    q, vertices, colors = head
    export_mesh(small_model, q, tmp_path / "head.ply", binary=binary)
    positions, rgb, faces = parse_ply(tmp_path / "head.ply")
    assert positions.shape == (small_model.num_vertices, 3)
    np.testing.assert_allclose(positions, vertices, atol=1e-4)
    np.testing.assert_array_equal(rgb, np.rint(colors * 255).astype(np.uint8))
    assert rgb.max() == 255  # the clipped colours land exactly on the top of the range
    np.testing.assert_array_equal(faces, small_model.triangles)


def test_scale_changes_the_geometry(tmp_path, small_model):
    q = np.zeros(small_model.num_parameters)
    q[0] = 1.0
    export_mesh(small_model, q, tmp_path / "s1.obj", scale=1.0)
    parsed, _ = parse_obj(tmp_path / "s1.obj")
    expected = small_model.shape.mean + small_model.shape.sigma[0] * small_model.shape.basis[:, 0]
    np.testing.assert_allclose(parsed[:, :3], expected.reshape(-1, 3), atol=1e-3)


def test_bad_parameters_and_suffix(tmp_path, small_model):
    with pytest.raises(ParameterError, match="width 7, but model 'headsynth-builtin' takes 8"):
        export_mesh(small_model, np.zeros(7), tmp_path / "bad.obj")
    with pytest.raises(ParameterError, match=r"one parameter vector \[m\]; received shape \[2, 8\]"):
        export_mesh(small_model, np.zeros((2, 8)), tmp_path / "bad.ply")
    with pytest.raises(ParameterError, match="NaN"):
        export_mesh(small_model, np.full(8, np.nan), tmp_path / "bad.ply")
    with pytest.raises(ValueError, match=r"\.obj or \.ply"):
        export_mesh(small_model, np.zeros(8), tmp_path / "bad.stl")
    assert not list(tmp_path.iterdir())  # nothing was written


# `headsynth model` ---------------------------------------------------------------

SIZE = 32


def read_png(path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        assert image.mode == "RGB"
        return np.asarray(image)


def tile(sheet: np.ndarray, row: int, col: int) -> np.ndarray:
    left, top = inspect_model.label_margins(SIZE)
    return sheet[top + row * SIZE : top + (row + 1) * SIZE, left + col * SIZE : left + (col + 1) * SIZE]


def test_identity_grid(tmp_path, small_model):
    q = inspect_model.render_identity_grid(
        small_model, tmp_path / "grid.png", rows=2, cols=3, image_size=SIZE
    )
    sheet = read_png(tmp_path / "grid.png")
    left, top = inspect_model.label_margins(SIZE)
    assert left > 0 and top > 0
    assert sheet.shape == (top + 2 * SIZE, left + 3 * SIZE, 3)
    assert q.shape == (6, small_model.num_parameters)
    # Tiles are the frontal renderings of the returned q, row-major.
    expected = inspect_model.render_frontal(small_model, q, SIZE)
    for i in range(6):
        np.testing.assert_array_equal(tile(sheet, i // 3, i % 3), expected[i])
    assert not np.array_equal(expected[0], expected[1])  # different identities
    assert (sheet[:, :left] < 128).any() and (sheet[:top] < 128).any()  # dark label text in the margins
    again = inspect_model.render_identity_grid(small_model, tmp_path / "again.png", 2, 3, SIZE, seed=0)
    np.testing.assert_array_equal(again, q)


def test_component_sweep(tmp_path, small_model):
    sigmas = (-3.0, 0.0, 3.0)
    q = inspect_model.render_component_sweep(
        small_model, tmp_path / "sweep.png", components=2, sigmas=sigmas, image_size=SIZE
    )
    sheet = read_png(tmp_path / "sweep.png")
    left, top = inspect_model.label_margins(SIZE)
    assert sheet.shape == (top + 4 * SIZE, left + 3 * SIZE, 3)  # 2 shape + 2 texture rows
    # Row r varies one parameter: shape 0, shape 1, texture 0 (q index 4), texture 1 (q index 5).
    q = q.reshape(4, 3, small_model.num_parameters)
    for row, index in enumerate([0, 1, 4, 5]):
        np.testing.assert_array_equal(q[row, :, index], sigmas)
        assert np.count_nonzero(q[row]) == 2
    mean_head = tile(sheet, 0, 1)
    for row in range(4):
        np.testing.assert_array_equal(tile(sheet, row, 1), mean_head)  # 0 sigma is the mean head
        assert not np.array_equal(tile(sheet, row, 0), mean_head)
        assert not np.array_equal(tile(sheet, row, 2), mean_head)
    # The first texture component changes colour, not the silhouette: same mask, other pixels.
    gray = np.array([128, 128, 128])
    assert np.array_equal(np.all(tile(sheet, 2, 0) == gray, -1), np.all(mean_head == gray, -1))


def test_model_command(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    model_command.add_arguments(parser)
    args = parser.parse_args(
        [
            "--shape-components",
            "3",
            "--texture-components",
            "2",
            "--grid",
            str(tmp_path / "grid.png"),
            "--export-mesh",
            str(tmp_path / "head.obj"),
            "--seed",
            "4",
            "--image-size",
            str(SIZE),
        ]
    )
    assert args.source == "builtin" and args.sweep is None
    assert model_command.command(args) == 0
    printed = capsys.readouterr().out
    assert "m = 5 (3 shape + 2 texture)" in printed and "basis orthonormal" in printed
    left, top = inspect_model.label_margins(SIZE)
    assert read_png(tmp_path / "grid.png").shape == (top + 4 * SIZE, left + 6 * SIZE, 3)
    # The exported head is identity #0 of the grid with the same seed.
    model = load_model("builtin", 3, 2)
    q = sample_parameters("naive_normal", 24, 5, 4, {"std": 1.0})[0]
    parsed, _ = parse_obj(tmp_path / "head.obj")
    np.testing.assert_allclose(parsed[:, :3], model.vertices(q, 1.0), atol=1e-3)


def test_summary_mentions_sizes(small_model):
    text = inspect_model.summarize(small_model)
    assert f"{small_model.num_vertices} vertices" in text
    assert "m = 8 (4 shape + 4 texture)" in text
    assert "basis orthonormal to" in text
