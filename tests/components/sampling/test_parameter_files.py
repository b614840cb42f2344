"""Parameter files: .npy, .npz (with labels) and .csv, and their errors."""

from __future__ import annotations

import numpy as np
import pytest

from headsynth.core.errors import ParameterError
from headsynth.data_schemas.parameter_files import (
    load_labelled_parameter_file,
    load_parameter_file,
    save_parameter_file,
)

VECTORS = np.arange(12, dtype=np.float64).reshape(4, 3) / 4.0 - 1.0


def test_npz_round_trip_with_labels(tmp_path):
    path = tmp_path / "p.npz"
    save_parameter_file(path, VECTORS, age=np.array([21, 35, 50, 64]), sex=np.array([0, 1, 1, 0]))
    vectors, labels = load_labelled_parameter_file(path)
    assert vectors.dtype == np.float32 and vectors.shape == (4, 3)
    np.testing.assert_array_equal(vectors, VECTORS.astype(np.float32))
    np.testing.assert_array_equal(labels["age"], [21, 35, 50, 64])
    np.testing.assert_array_equal(labels["sex"], [0, 1, 1, 0])
    np.testing.assert_array_equal(load_parameter_file(path, width=3, min_rows=4), vectors)
    assert not list(tmp_path.glob(".tmp-*"))


def test_npz_key_parameters_and_npy(tmp_path):
    np.savez(tmp_path / "other_key.npz", parameters=VECTORS)
    np.testing.assert_array_equal(load_parameter_file(tmp_path / "other_key.npz"), VECTORS.astype(np.float32))
    np.save(tmp_path / "p.npy", VECTORS)
    np.testing.assert_array_equal(
        load_parameter_file(tmp_path / "p.npy", width=3), VECTORS.astype(np.float32)
    )
    np.save(tmp_path / "one.npy", VECTORS[0])  # a single [m] vector is one row
    assert load_parameter_file(tmp_path / "one.npy").shape == (1, 3)


def test_csv_with_and_without_header(tmp_path):
    plain = tmp_path / "plain.csv"
    plain.write_text("\n".join(",".join(f"{v:g}" for v in row) for row in VECTORS) + "\n")
    np.testing.assert_array_equal(load_parameter_file(plain, width=3), VECTORS.astype(np.float32))

    labelled = tmp_path / "labelled.csv"
    lines = ["q0,age,q1,q2,sex"] + [
        f"{row[0]},{30 + i},{row[1]},{row[2]},{i % 2}" for i, row in enumerate(VECTORS)
    ]
    labelled.write_text("\n".join(lines) + "\n\n")  # a trailing blank line is fine
    vectors, labels = load_labelled_parameter_file(labelled, width=3)
    np.testing.assert_array_equal(vectors, VECTORS.astype(np.float32))
    np.testing.assert_array_equal(labels["age"], [30, 31, 32, 33])
    np.testing.assert_array_equal(labels["sex"], [0, 1, 0, 1])


def test_wrong_width_names_expected_and_received(tmp_path):
    np.save(tmp_path / "p.npy", VECTORS)
    with pytest.raises(ParameterError, match="width 3; expected width 100"):
        load_parameter_file(tmp_path / "p.npy", width=100)


def test_nan_and_inf_rows_are_listed(tmp_path):
    bad = VECTORS.copy()
    bad[1, 2] = np.nan
    bad[3, 0] = np.inf
    np.savez(tmp_path / "bad.npz", q=bad)
    with pytest.raises(ParameterError, match=r"NaN or infinite values in 2 rows \(0-based rows 1, 3\)"):
        load_parameter_file(tmp_path / "bad.npz")
    csv = tmp_path / "bad.csv"
    csv.write_text("1,2,3\n4,nan,6\n")
    with pytest.raises(ParameterError, match=r"0-based rows 1\)"):
        load_parameter_file(csv)
    # Beyond float32's range is infinite once read.
    np.save(tmp_path / "huge.npy", np.array([[1.0, 1e300]]))
    with pytest.raises(ParameterError, match="rows 0"):
        load_parameter_file(tmp_path / "huge.npy")


def test_too_few_rows(tmp_path):
    np.save(tmp_path / "p.npy", VECTORS[:1])
    with pytest.raises(ParameterError, match="has 1 vectors; at least 2 are needed"):
        load_parameter_file(tmp_path / "p.npy", min_rows=2)
    (tmp_path / "empty.csv").write_text("q0,q1\n")
    with pytest.raises(ParameterError, match="has 0 vectors; at least 1"):
        load_parameter_file(tmp_path / "empty.csv")


def test_missing_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(ParameterError, match="does not exist"):
        load_parameter_file(tmp_path / "missing.npz")
    (tmp_path / "p.txt").write_text("1,2")
    with pytest.raises(ParameterError, match="suffix '.txt'"):
        load_parameter_file(tmp_path / "p.txt")
    save_parameter_file(tmp_path / "good.npz", VECTORS)
    data = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "truncated.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ParameterError, match="not a readable .npz file"):
        load_parameter_file(tmp_path / "truncated.npz")
    (tmp_path / "garbage.npy").write_bytes(b"not numpy at all")
    with pytest.raises(ParameterError, match="not a readable .npy file"):
        load_parameter_file(tmp_path / "garbage.npy")
    np.savez(tmp_path / "nokey.npz", vectors=VECTORS)
    with pytest.raises(ParameterError, match=r"no array 'q' or 'parameters' \(found: vectors\)"):
        load_parameter_file(tmp_path / "nokey.npz")
    np.save(tmp_path / "cube.npy", np.zeros((2, 2, 2)))
    with pytest.raises(ParameterError, match=r"shape \[2, 2, 2\]; expected \[n, m\]"):
        load_parameter_file(tmp_path / "cube.npy")
    (tmp_path / "text.csv").write_text("1,2,3\n4,five,6\n")
    with pytest.raises(ParameterError, match="line 2, column 2: 'five' is not a number"):
        load_parameter_file(tmp_path / "text.csv")
    (tmp_path / "ragged.csv").write_text("1,2,3\n4,5\n")
    with pytest.raises(ParameterError, match="line 2: 2 columns; expected 3"):
        load_parameter_file(tmp_path / "ragged.csv")


def test_damaged_npz_bytes_give_a_parameter_error(tmp_path):
    save_parameter_file(tmp_path / "good.npz", np.random.default_rng(0).normal(size=(200, 10)))
    data = (tmp_path / "good.npz").read_bytes()
    damaged = tmp_path / "damaged.npz"
    failures = 0
    for offset in range(0, len(data) - 16, 61):
        damaged.write_bytes(data[:offset] + b"\xff" * 16 + data[offset + 16 :])
        try:
            load_parameter_file(damaged)
        except ParameterError:
            failures += 1
    assert failures > len(range(0, len(data) - 16, 61)) // 2


def test_labels_must_match_the_vectors(tmp_path):
    with pytest.raises(ParameterError, match=r"'age' has shape \[3\]; expected \[4\]"):
        save_parameter_file(tmp_path / "p.npz", VECTORS, age=np.array([1, 2, 3]))
    np.savez(tmp_path / "short.npz", q=VECTORS, sex=np.array([0, 1]))
    with pytest.raises(ParameterError, match=r"label 'sex' has shape \[2\]; expected \[4\]"):
        load_labelled_parameter_file(tmp_path / "short.npz")
    with pytest.raises(ParameterError, match="written as .npz"):
        save_parameter_file(tmp_path / "p.npy", VECTORS)
