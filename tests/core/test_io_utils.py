import numpy as np
import pytest

from headsynth.components.sampling.samplers import sample_parameters
from headsynth.core.io_utils import atomic_path, save_npz
from headsynth.data_schemas.parameter_store import load_split_parameters, save_split_parameters


def test_npz_files_are_byte_identical_across_writes(tmp_path):
    q = sample_parameters("paper_uniform", 50, 8, seed=3)
    save_split_parameters(tmp_path / "a.npz", {"train": q, "eval": q[:5]}, sampler="paper_uniform", seed=3)
    save_split_parameters(tmp_path / "b.npz", {"train": q, "eval": q[:5]}, sampler="paper_uniform", seed=3)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    np.testing.assert_array_equal(load_split_parameters(tmp_path / "a.npz", "train"), q)


def test_save_npz_round_trips_compressed(tmp_path):
    arrays = {"x": np.arange(12, dtype=np.float32).reshape(3, 4), "name": np.array("model")}
    save_npz(tmp_path / "m.npz", compress=True, **arrays)
    with np.load(tmp_path / "m.npz") as loaded:
        np.testing.assert_array_equal(loaded["x"], arrays["x"])
        assert str(loaded["name"]) == "model"


def test_atomic_path_leaves_nothing_under_the_final_name_on_failure(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            with open(tmp, "wb") as f:
                f.write(b"half")
            raise RuntimeError("killed")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []
