"""The in-memory morphable model and headsynth's `.npz` model format."""

from __future__ import annotations

import dataclasses
import zipfile

import numpy as np
import pytest

from headsynth.core.errors import ModelFileError, ParameterError
from headsynth.morphable.loading import load_model
from headsynth.morphable.model import MorphableModel, PcaPart, load_npz

V = 10


def tiny_model(k_shape: int = 4, k_texture: int = 4, seed: int = 0) -> MorphableModel:
    """A 10-vertex model with orthonormal bases and known sigmas."""
    rng = np.random.default_rng(seed)

    def part(k: int, mean_scale: float, sigma: np.ndarray) -> PcaPart:
        basis, _ = np.linalg.qr(rng.normal(size=(3 * V, k)))
        mean = rng.uniform(0.2, 0.8, size=3 * V) * mean_scale
        return PcaPart(mean.astype(np.float32), basis.astype(np.float32), sigma.astype(np.float32))

    return MorphableModel(
        shape=part(k_shape, 100.0, np.linspace(5.0, 1.0, k_shape)),
        texture=part(k_texture, 1.0, np.linspace(0.2, 0.05, k_texture)),
        triangles=np.array([[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 0, 5]], np.int32),
        landmarks=np.array([1, 8], np.int32),
        name="tiny",
        population={"age": np.array([20.0, 40.0, 60.0])},
    )


@pytest.fixture
def model_file(tmp_path):
    model = tiny_model()
    path = tmp_path / "tiny.npz"
    model.save_npz(path)
    return path, model


def test_npz_round_trip_keeps_every_array(model_file):
    path, model = model_file
    loaded = load_npz(path)
    assert loaded.name == "tiny"
    for part_name in ("shape", "texture"):
        for field in ("mean", "basis", "sigma"):
            np.testing.assert_array_equal(
                getattr(getattr(loaded, part_name), field), getattr(getattr(model, part_name), field)
            )
    np.testing.assert_array_equal(loaded.triangles, model.triangles)
    np.testing.assert_array_equal(loaded.landmarks, [1, 8])
    np.testing.assert_array_equal(loaded.population["age"], [20.0, 40.0, 60.0])
    assert loaded.expression is None
    assert not list(path.parent.glob(".tmp-*"))  # the atomic write left no temporary file


def test_truncation_and_reconstruction_match_numpy(model_file):
    path, model = model_file
    loaded = load_model(str(path), 2, 3)
    assert (loaded.shape.num_components, loaded.texture.num_components, loaded.num_parameters) == (2, 3, 5)
    q = np.array([[1.0, -0.5, 0.3, -1.0, 0.7], [0.0, 0.0, 0.0, 0.0, 0.0]], np.float32)
    scale = 1.6
    shape_flat = model.shape.mean + (scale * model.shape.sigma[:2] * q[:, :2]) @ model.shape.basis[:, :2].T
    texture_flat = (
        model.texture.mean + (scale * model.texture.sigma[:3] * q[:, 2:]) @ model.texture.basis[:, :3].T
    )
    np.testing.assert_allclose(loaded.vertices(q, scale), shape_flat.reshape(2, V, 3), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(
        loaded.colors(q, scale), np.clip(texture_flat, 0, 1).reshape(2, V, 3), rtol=1e-5, atol=1e-6
    )
    # q = 0 is the mean head.
    np.testing.assert_allclose(loaded.vertices(q[1], scale), model.shape.mean.reshape(V, 3), atol=1e-5)


def test_colours_are_clipped_to_the_unit_range(model_file):
    _, model = model_file
    colors = model.colors(np.full(model.num_parameters, 40.0), scale=1.0)
    assert colors.min() == 0.0 or colors.max() == 1.0
    assert colors.min() >= 0.0 and colors.max() <= 1.0


def test_split_and_wrong_width(model_file):
    _, model = model_file
    q = np.arange(8.0)
    shape_part, texture_part = model.split(q)
    np.testing.assert_array_equal(shape_part, [0, 1, 2, 3])
    np.testing.assert_array_equal(texture_part, [4, 5, 6, 7])
    with pytest.raises(ParameterError, match=r"width 7, but model 'tiny' takes 8 \(4 shape \+ 4 texture\)"):
        model.vertices(np.zeros(7))


def test_truncating_beyond_the_model_fails(model_file):
    path, model = model_file
    with pytest.raises(ModelFileError, match="Cannot keep 5 texture components: model 'tiny' has 4"):
        model.truncated(0, 5)
    with pytest.raises(ModelFileError, match="Cannot keep 9 shape components"):
        load_model(str(path), 9, 0)
    kept = model.truncated(0, 0)  # 0 keeps all
    assert kept.shape is model.shape and kept.texture is model.texture


def _rewrite(path, **changes):
    with np.load(path) as archive:
        arrays = {key: archive[key] for key in archive.files}
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value(arrays[key]) if callable(value) else value
    np.savez(path, **arrays)


def _nan_at(index):
    def change(values):
        values = values.copy()
        values.reshape(-1)[index] = np.nan
        return values

    return change


MALFORMED_NPZ = {
    "missing basis": ({"shape_basis": None}, r"no array 'shape_basis'"),
    "missing triangles": ({"triangles": None}, r"no array 'triangles'"),
    "basis rows": ({"shape_basis": lambda b: b[:27]}, r"shape basis has shape \(27, 4\); expected \[30, k\]"),
    "sigma length": ({"texture_sigma": lambda s: s[:3]}, r"texture sigma has shape \(3,\); expected \[4\]"),
    "mean not 3V": ({"shape_mean": lambda m: m[:29]}, r"shape mean has shape \(29,\); expected \[3V\]"),
    "texture vertex count": (
        {"texture_mean": lambda m: m[:27], "texture_basis": lambda b: b[:27]},
        r"texture mean has 27 values; expected 30",
    ),
    "nan in basis": ({"texture_basis": _nan_at(3)}, r"texture basis contains NaN"),
    "negative sigma": ({"shape_sigma": np.array([1.0, -1.0, 1.0, 1.0], np.float32)}, r"negative"),
    "triangle index": ({"triangles": np.array([[0, 1, 10]], np.int32)}, r"outside 0..9"),
    "landmark index": (
        {"landmarks": np.array([10], np.int32)},
        r"landmarks must be \[L\] vertex indices below 10",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_NPZ))
def test_malformed_npz_names_the_array_and_expected_shape(model_file, case):
    path, _ = model_file
    changes, message = MALFORMED_NPZ[case]
    _rewrite(path, **changes)
    with pytest.raises(ModelFileError, match=message):
        load_npz(path)


def test_truncated_and_corrupt_npz(model_file, tmp_path):
    path, _ = model_file
    data = path.read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="not a readable .npz archive"):
        load_npz(truncated)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"\x00" * 200)
    with pytest.raises(ModelFileError, match="not a readable .npz archive"):
        load_npz(garbage)
    with pytest.raises(ModelFileError, match="does not exist"):
        load_npz(tmp_path / "missing.npz")
    assert zipfile.is_zipfile(path)  # the original is intact


def test_damaged_bytes_anywhere_give_a_model_file_error(model_file, tmp_path):
    # Damage inside a compressed member raises zlib.error, in the directory BadZipFile:
    # every position must end as ModelFileError, never as a raw library error.
    path, _ = model_file
    data = path.read_bytes()
    damaged = tmp_path / "damaged.npz"
    failures = 0
    for offset in range(0, len(data) - 16, 97):
        damaged.write_bytes(data[:offset] + b"\xff" * 16 + data[offset + 16 :])
        try:
            load_npz(damaged)
        except ModelFileError:
            failures += 1
    assert failures > len(range(0, len(data) - 16, 97)) // 2


def test_expression_part_round_trips(tmp_path):
    model = tiny_model()
    rng = np.random.default_rng(1)
    basis, _ = np.linalg.qr(rng.normal(size=(3 * V, 2)))
    expression = PcaPart(
        np.zeros(3 * V, np.float32), basis.astype(np.float32), np.array([2.0, 1.0], np.float32)
    )
    dataclasses.replace(model, expression=expression).save_npz(tmp_path / "expr.npz")
    loaded = load_npz(tmp_path / "expr.npz")
    np.testing.assert_array_equal(loaded.expression.sigma, [2.0, 1.0])
    assert "expression: 2 components" in loaded.summary()


def test_unknown_source_is_rejected():
    with pytest.raises(ModelFileError, match="Unknown face model source 'model.obj'"):
        load_model("model.obj")


def test_builtin_model_loads_truncated():
    model = load_model("builtin", 4, 4)
    assert model.num_parameters == 8
    gram = model.shape.basis.T.astype(np.float64) @ model.shape.basis
    np.testing.assert_allclose(gram, np.eye(4), atol=1e-5)
    assert np.all(np.diff(model.shape.sigma) <= 0)  # components ordered by variance
