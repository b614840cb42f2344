"""Shared fixtures: tiny models and rendered data made by the tests themselves."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def small_model():
    """The built-in model truncated to 4 shape + 4 texture components."""
    from headsynth.components.face_model.morphable_model import load_model

    return load_model("builtin", 4, 4)


@pytest.fixture(scope="session")
def rendered_examples(tmp_path_factory, small_model):
    """A tiny Examples folder (48 train / 16 eval, 32x32, scenario angle) rendered once per session."""
    from headsynth.components.rendering.render_job import RenderJob, run_render_job
    from headsynth.components.sampling.parameter_store import save_split_parameters
    from headsynth.components.sampling.samplers import sample_parameters

    root = tmp_path_factory.mktemp("rendered")
    small_model.save_npz(root / "model.npz")
    m = small_model.num_parameters
    save_split_parameters(
        root / "params.npz",
        {
            "train": sample_parameters("paper_uniform", 48, m, 1),
            "eval": sample_parameters("paper_uniform", 16, m, 2),
        },
    )
    job = RenderJob(
        str(root / "model.npz"),
        str(root / "params.npz"),
        str(root / "examples"),
        image_size=32,
        batch_size=16,
        num_shards=2,
    )
    run_render_job(job)
    return root / "examples"


def decode_png(data: bytes) -> np.ndarray:
    import cv2

    return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
