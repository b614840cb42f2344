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


def test_bytes_helpers_round_trip_and_absolute_keeps_uris(tmp_path, monkeypatch):
    from headsynth.core.io_utils import absolute, file_exists, read_bytes, write_bytes_atomic

    target = tmp_path / "sub" / "blob.bin"
    write_bytes_atomic(target, b"\x00\x01headsynth")
    assert read_bytes(target) == b"\x00\x01headsynth" and file_exists(target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["blob.bin"]  # no temporary file left
    monkeypatch.chdir(tmp_path)
    assert absolute("runs/x") == str(tmp_path / "runs" / "x")
    assert absolute("gs://bucket/headsynth") == "gs://bucket/headsynth"


def test_figures_written_through_gfile_have_the_bytes_of_a_direct_savefig(tmp_path):
    from headsynth.report.figures import _pyplot, save_figure

    plt = _pyplot()

    def figure():
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.plot([0, 1, 2], [2, 0, 1])
        return fig

    direct = figure()
    direct.savefig(tmp_path / "direct.png", format="png", dpi=110, bbox_inches="tight")
    plt.close(direct)
    save_figure(figure(), str(tmp_path / "saved.png"))
    assert (tmp_path / "saved.png").read_bytes() == (tmp_path / "direct.png").read_bytes()
