"""Basel Face Model 2017 `.h5` loading, on tiny files in the BFM layout."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from headsynth.core.errors import ModelFileError
from headsynth.morphable.bfm import load_bfm2017
from headsynth.morphable.loading import load_model

V, K = 10, 4  # vertices and components of the tiny model


def _orthonormal(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    basis, _ = np.linalg.qr(rng.normal(size=(rows, cols)))
    return basis


def tiny_bfm_arrays(seed: int = 0, expression: bool = False) -> dict[str, np.ndarray]:
    """The datasets of a BFM-layout file with V vertices and K components per part."""
    rng = np.random.default_rng(seed)
    mean_shape = rng.normal(0.0, 50.0, size=3 * V)
    triangles = np.array([[0, 1, 2], [2, 3, 4], [4, 5, 6], [6, 7, 8], [8, 9, 0]])
    arrays = {
        "shape/model/mean": mean_shape.astype(np.float32),
        "shape/model/pcaBasis": _orthonormal(rng, 3 * V, K).astype(np.float32),
        "shape/model/pcaVariance": np.array([16.0, 9.0, 4.0, 1.0], np.float32),
        "shape/representer/cells": triangles.T.astype(np.uint32),
        "shape/representer/points": mean_shape.reshape(V, 3).T.astype(np.float32),
        "color/model/mean": rng.uniform(0.2, 0.8, size=3 * V).astype(np.float32),
        "color/model/pcaBasis": _orthonormal(rng, 3 * V, K).astype(np.float32),
        "color/model/pcaVariance": np.array([0.04, 0.01, 0.0025, 0.0004], np.float32),
        "color/representer/cells": triangles.T.astype(np.uint32),
    }
    if expression:
        arrays["expression/model/mean"] = np.zeros(3 * V, np.float32)
        arrays["expression/model/pcaBasis"] = _orthonormal(rng, 3 * V, 3).astype(np.float32)
        arrays["expression/model/pcaVariance"] = np.array([4.0, 2.0, 1.0], np.float32)
    return arrays


def write_h5(path, arrays: dict[str, np.ndarray]) -> None:
    with h5py.File(path, "w") as f:
        for key, values in arrays.items():
            f.create_dataset(key, data=values)


@pytest.fixture
def bfm_file(tmp_path):
    arrays = tiny_bfm_arrays()
    path = tmp_path / "tiny_bfm.h5"
    write_h5(path, arrays)
    return path, arrays


def test_loads_mean_basis_and_sigma_as_sqrt_of_variance(bfm_file):
    path, arrays = bfm_file
    model = load_bfm2017(path)
    assert model.name == "tiny_bfm"
    assert model.num_vertices == V and model.num_parameters == 2 * K
    np.testing.assert_array_equal(model.shape.mean, arrays["shape/model/mean"])
    np.testing.assert_array_equal(model.shape.basis, arrays["shape/model/pcaBasis"])
    np.testing.assert_allclose(model.shape.sigma, [4.0, 3.0, 2.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(model.texture.sigma, [0.2, 0.1, 0.05, 0.02], rtol=1e-6)
    np.testing.assert_array_equal(model.texture.mean, arrays["color/model/mean"])
    # Cells are stored [3, T]; the model keeps [T, 3].
    np.testing.assert_array_equal(model.triangles, arrays["shape/representer/cells"].T)
    assert model.triangles.dtype == np.int32
    assert model.landmarks.dtype == np.int32 and model.landmarks.shape == (0,)
    assert model.expression is None


def test_reconstruction_matches_numpy_after_truncation(bfm_file):
    path, arrays = bfm_file
    model = load_bfm2017(path).truncated(2, 3)
    assert (model.shape.num_components, model.texture.num_components) == (2, 3)
    q = np.array([0.5, -1.0, 0.25, 1.0, -0.75], np.float32)
    scale = 1.6
    sigma_shape = np.sqrt(arrays["shape/model/pcaVariance"][:2].astype(np.float64))
    sigma_texture = np.sqrt(arrays["color/model/pcaVariance"][:3].astype(np.float64))
    expected_vertices = arrays["shape/model/mean"] + arrays["shape/model/pcaBasis"][:, :2] @ (
        scale * sigma_shape * q[:2]
    )
    expected_colors = arrays["color/model/mean"] + arrays["color/model/pcaBasis"][:, :3] @ (
        scale * sigma_texture * q[2:]
    )
    np.testing.assert_allclose(
        model.vertices(q, scale), expected_vertices.reshape(V, 3), rtol=1e-5, atol=1e-4
    )
    np.testing.assert_allclose(
        model.colors(q, scale), np.clip(expected_colors, 0, 1).reshape(V, 3), rtol=1e-5, atol=1e-6
    )


def test_reading_fewer_components_equals_truncating(bfm_file):
    path, _ = bfm_file
    partial = load_bfm2017(path, shape_components=3, texture_components=1)
    full = load_bfm2017(path).truncated(3, 1)
    np.testing.assert_array_equal(partial.shape.basis, full.shape.basis)
    np.testing.assert_array_equal(partial.texture.sigma, full.texture.sigma)
    assert partial.shape.basis.shape == (3 * V, 3)


def test_load_model_dispatches_h5_and_truncates(bfm_file):
    path, _ = bfm_file
    model = load_model(str(path), 2, 2)
    assert model.num_parameters == 4 and model.shape.basis.shape == (3 * V, 2)


def test_more_components_than_the_file_has_names_key_and_shape(bfm_file):
    path, _ = bfm_file
    with pytest.raises(ModelFileError, match=r"shape/model/pcaBasis.*\[30, 4\].*at most 4.*\[30, >=5\]"):
        load_bfm2017(path, shape_components=5)
    with pytest.raises(ModelFileError, match=r"color/model/pcaBasis"):
        load_bfm2017(path, texture_components=9)
    with pytest.raises(ModelFileError, match="Cannot keep 5 shape components.*has 4"):
        load_model(str(path), 5, 0)


def test_expression_part_is_loaded_when_present(tmp_path):
    arrays = tiny_bfm_arrays(expression=True)
    write_h5(tmp_path / "expr.h5", arrays)
    model = load_bfm2017(tmp_path / "expr.h5")
    assert model.expression is not None
    np.testing.assert_allclose(model.expression.sigma, np.sqrt([4.0, 2.0, 1.0]), rtol=1e-6)


def test_integer_landmarks_are_read(tmp_path):
    arrays = tiny_bfm_arrays()
    arrays["metadata/landmarks"] = np.array([3, 7, 1], np.int64)
    write_h5(tmp_path / "lm.h5", arrays)
    np.testing.assert_array_equal(load_bfm2017(tmp_path / "lm.h5").landmarks, [3, 7, 1])


def test_bfm_json_landmarks_map_to_the_nearest_vertex(tmp_path):
    arrays = tiny_bfm_arrays()
    points = arrays["shape/representer/points"].T
    entries = [
        {"id": "left.eye", "coordinates": (points[6] + 0.1).tolist()},
        {"id": "nose.tip", "coordinates": (points[2] - 0.1).tolist()},
    ]
    write_h5(tmp_path / "json.h5", arrays)
    with h5py.File(tmp_path / "json.h5", "a") as f:
        f.create_dataset("metadata/landmarks/json", data=json.dumps(entries))
    np.testing.assert_array_equal(load_bfm2017(tmp_path / "json.h5").landmarks, [6, 2])


def _drop(key):
    def change(arrays):
        del arrays[key]

    return change


def _set(key, values):
    def change(arrays):
        arrays[key] = values(arrays)

    return change


def _with_nan(key, index):
    def change(arrays):
        values = arrays[key].copy()
        values.reshape(-1)[index] = np.nan
        arrays[key] = values

    return change


def _drop_group(group):
    def change(arrays):
        for key in [k for k in arrays if k.startswith(group + "/")]:
            del arrays[key]

    return change


MALFORMED = {
    "missing color group": (_drop_group("color"), r"group 'color' is missing"),
    "missing basis": (
        _drop("shape/model/pcaBasis"),
        r"'shape/model/pcaBasis' is missing; expected a dataset of shape \[3V, k\]",
    ),
    "missing variance": (_drop("color/model/pcaVariance"), r"'color/model/pcaVariance' is missing"),
    "missing cells": (_drop("shape/representer/cells"), r"'shape/representer/cells' is missing"),
    "basis rows": (
        _set("shape/model/pcaBasis", lambda a: a["shape/model/pcaBasis"][:27]),
        r"shape/model/pcaBasis has shape \[27, 4\]; expected \[30, k\]",
    ),
    "variance length": (
        _set("shape/model/pcaVariance", lambda a: a["shape/model/pcaVariance"][:3]),
        r"shape/model/pcaVariance has shape \[3\]; expected \[4\]",
    ),
    "mean not 3V": (
        _set("shape/model/mean", lambda a: a["shape/model/mean"][:29]),
        r"shape/model/mean has shape \[29\]; expected \[3V\]",
    ),
    "colour vertex count": (
        _set("color/model/mean", lambda a: a["color/model/mean"][:27]),
        r"color/model/mean has shape \[27\]; expected \[30\]",
    ),
    "cells not transposed": (
        _set("shape/representer/cells", lambda a: a["shape/representer/cells"].T),
        r"shape/representer/cells has shape \[5, 3\]; expected \[3, T\]",
    ),
    "points": (
        _set("shape/representer/points", lambda a: a["shape/representer/points"][:, :9]),
        r"shape/representer/points has shape \[3, 9\]; expected \[3, 10\]",
    ),
    "nan in colour basis": (_with_nan("color/model/pcaBasis", 5), r"color/model/pcaBasis contains NaN"),
    "nan in shape mean": (_with_nan("shape/model/mean", 0), r"shape/model/mean contains NaN"),
    "negative variance": (
        _set("shape/model/pcaVariance", lambda a: np.array([1.0, -1.0, 1.0, 1.0], np.float32)),
        r"shape/model/pcaVariance has negative variances \(index \[1\]\)",
    ),
    "triangle index out of range": (
        _set("shape/representer/cells", lambda a: np.array([[0], [1], [10]], np.uint32)),
        r"triangles index vertices outside 0..9",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_files_name_the_key_and_expected_shape(tmp_path, case):
    change, message = MALFORMED[case]
    arrays = tiny_bfm_arrays()
    change(arrays)
    write_h5(tmp_path / "bad.h5", arrays)
    with pytest.raises(ModelFileError, match=message):
        load_bfm2017(tmp_path / "bad.h5")


def test_not_hdf5_and_truncated_files_give_clear_errors(tmp_path, bfm_file):
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"this is not an HDF5 file" * 10)
    with pytest.raises(ModelFileError, match="not a readable HDF5 file.*truncated or corrupt"):
        load_bfm2017(garbage)

    path, _ = bfm_file
    data = path.read_bytes()
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated or corrupt"):
        load_bfm2017(truncated)

    with pytest.raises(ModelFileError, match="does not exist"):
        load_bfm2017(tmp_path / "missing.h5")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # casts of damaged values
def test_damaged_bytes_anywhere_give_a_model_file_error(tmp_path, bfm_file):
    # HDF5 keeps no checksums, so damage inside float data can go unnoticed; damage
    # anywhere else must end as ModelFileError, never as a raw h5py or decoding error.
    path, _ = bfm_file
    data = path.read_bytes()
    damaged = tmp_path / "damaged.h5"
    failures = 0
    for offset in range(0, len(data) - 16, 89):
        for fill in (b"\xff" * 16, b"\x00" * 16):
            damaged.write_bytes(data[:offset] + fill + data[offset + 16 :])
            try:
                load_bfm2017(damaged)
            except ModelFileError:
                failures += 1
    assert failures > 25
