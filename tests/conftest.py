"""Shared fixtures: tiny models and rendered data made by the tests themselves."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

# The nodes of the default pipeline (no generative sampler), as the tests expect them.
PIPELINE_COMPONENTS = {
    "FaceModel",
    "SampleParameters",
    "RenderExamples",
    "ImportSchemaGen",
    "StatisticsGen",
    "ExampleValidator",
    "Trainer",
    "Evaluate",
    "Pusher",
}


@pytest.fixture(scope="session")
def small_model():
    """The built-in model truncated to 4 shape + 4 texture components."""
    from headsynth.morphable.loading import load_model

    return load_model("builtin", 4, 4)


@pytest.fixture(scope="session")
def rendered_examples(tmp_path_factory, small_model):
    """A tiny Examples folder (48 train / 16 eval, 32x32, scenario angle) rendered once per session."""
    from headsynth.components.rendering.render_job import RenderJob, run_render_job

    root = tmp_path_factory.mktemp("rendered")
    write_model_and_parameters(root, small_model, 48, 16, seed=1)
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


def write_model_and_parameters(root, model, num_train: int, num_eval: int, seed: int = 1) -> None:
    """Writes `model.npz` and `params.npz` (paper sampling) into `root`."""
    from headsynth.components.sampling.samplers import sample_parameters
    from headsynth.data_schemas.parameter_store import save_split_parameters

    model.save_npz(root / "model.npz")
    m = model.num_parameters
    save_split_parameters(
        root / "params.npz",
        {
            "train": sample_parameters("paper_uniform", num_train, m, [seed, 0]),
            "eval": sample_parameters("paper_uniform", num_eval, m, [seed, 1]),
        },
    )


@pytest.fixture(scope="session")
def trained_regressor(tmp_path_factory, rendered_examples, small_model):
    """A tiny regressor trained for 12 steps on `rendered_examples`: (folder, result).

    The folder holds `serving/` (the SavedModel) and `logs/` (TensorBoard, regressor.keras).
    """
    from headsynth.components.training.fit import train_regressor
    from headsynth.components.training.settings import TrainSettings
    from headsynth.config import TrainingConfig

    out = tmp_path_factory.mktemp("trained")
    settings = TrainSettings(
        training=TrainingConfig(
            batch_size=8, train_steps=12, eval_steps=2, steps_per_epoch=6, backbone="tiny_cnn"
        ),
        image_size=32,
    )
    result = train_regressor(
        str(rendered_examples / "Split-train" / "*"),
        str(rendered_examples / "Split-eval" / "*"),
        small_model,
        settings,
        str(out / "serving"),
        str(out / "logs"),
    )
    return out, result


def decode_png(data: bytes) -> np.ndarray:
    import cv2

    return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
