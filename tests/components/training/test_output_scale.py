"""Targets the head can reach: the thesis's tanh head, scaled to the sampler's range, learns U(-4, 4) targets
that no output in (-1, 1) can, and the scale travels with the model into the SavedModel.

The must-show of issue 16: with q ~ U(-4, 4), a prediction confined to [-1, 1] (tanh) errs at least by
clipping, E[(|q| - 1)^2 1{|q| > 1}] = (1/4) * integral_1^4 (x - 1)^2 dx = 9/4 per parameter. The head,
trained on features that determine q, goes far below that floor once its output is scaled by the
sampler's limit, 4, which the trainer derives from the spec `naive_uniform:4`.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from headsynth import wiring
from headsynth.components.sampling.samplers import sample_parameters
from headsynth.components.training.export import export_serving_model
from headsynth.components.training.model import build_regressor, make_optimizer
from headsynth.components.training.settings import TrainSettings
from headsynth.config import apply_overrides, get_preset
from headsynth.core.errors import ConfigError
from headsynth.data_schemas.serving_assets import read_input_framing
from headsynth.models.heads import OutputScale, build_head
from headsynth.models.regressor import squared_euclidean_loss

WIDTH = 4
CLIPPING_FLOOR_PER_PARAMETER = 9 / 4  # E[(|q| - 1)^2 1{|q| > 1}] for q ~ U(-4, 4)


def thesis_settings(*overrides: str) -> TrainSettings:
    """The thesis head (mlp, tanh) on the ci preset with the given sampler."""
    config = apply_overrides(get_preset("ci"), ["training.head=mlp", "sampling.scale=1", *overrides])
    return wiring.train_settings(wiring.check_names(config))


def features_of(q: np.ndarray, num_features: int) -> np.ndarray:
    """Features that determine q (a fixed random linear map, as a stem's features determine the face)."""
    mixing = np.random.default_rng(99).normal(0.0, 1.0 / np.sqrt(WIDTH), (WIDTH, num_features))
    return (q @ mixing).astype(np.float32)


def train_head(settings: TrainSettings, output_scale: float) -> tuple[float, float]:
    """Trains the thesis head on U(-4, 4) targets; returns (its held-out error, the clipping floor there),
    both as mean squared euclidean error per example."""
    keras.utils.set_random_seed(0)
    head = build_head("mlp", 32, WIDTH, output_scale=output_scale)
    head.compile(optimizer=make_optimizer(settings.training), loss=squared_euclidean_loss)
    q_train = sample_parameters("naive_uniform:4", 4000, WIDTH, seed=[1, 0])
    q_test = sample_parameters("naive_uniform:4", 1000, WIDTH, seed=[1, 1])
    head.fit(features_of(q_train, 32), q_train, batch_size=32, epochs=15, verbose=0)
    predicted = head.predict(features_of(q_test, 32), verbose=0)
    error = float(np.mean(np.sum((predicted - q_test) ** 2, axis=1)))
    floor = float(np.mean(np.sum((np.clip(q_test, -1, 1) - q_test) ** 2, axis=1)))
    return error, floor


def test_the_thesis_head_learns_uniform_4_targets_below_the_clipping_floor():
    settings = thesis_settings("sampling.sampler=naive_uniform:4")
    assert settings.output_scale == 4.0  # derived from the spec: the uniform's limit
    error, floor = train_head(settings, settings.output_scale)
    assert floor == pytest.approx(WIDTH * CLIPPING_FLOOR_PER_PARAMETER, rel=0.1)
    assert error < 0.1 * floor, (error, floor)
    # The same head without the scale cannot pass the floor: every output lies in (-1, 1).
    unscaled, _ = train_head(settings, 1.0)
    assert unscaled >= floor - 1e-4, (unscaled, floor)


@pytest.mark.parametrize(
    "overrides, expected",
    [
        (["sampling.sampler=naive_uniform:4"], 4.0),
        (["sampling.sampler=naive_normal:1.5"], 4.5),
        (["sampling.sampler=naive_normal:1.5", "training.output_scale_stds=2"], 3.0),
        (["sampling.sampler=composite:0.8,1,6"], 6.0),
        (["sampling.sampler=meta_normal:0.5,2"], 6.0),
        (["sampling.sampler=naive_uniform:4", "training.output_scale=5"], 5.0),
        (["sampling.sampler=naive_uniform:4", "training.head=linear"], 1.0),
        (["sampling.sampler=gmm:1", "sampling.scale=2"], 1.5),  # unit sigma in q at scale 2: 3 / 2
    ],
)
def test_the_trainer_derives_the_output_scale_from_the_spec(overrides, expected):
    settings = thesis_settings(*overrides)
    assert settings.output_scale == pytest.approx(expected)
    again = TrainSettings.from_dict({**settings.to_dict(), "backup_root": "/b"})
    assert again == settings and again.flat_dict()["output_scale"] == settings.output_scale


def test_a_bad_output_scale_is_named():
    with pytest.raises(ConfigError, match="training.output_scale must be >= 0"):
        apply_overrides(get_preset("ci"), ["training.output_scale=-1"])
    with pytest.raises(ConfigError, match="training.output_scale_stds > 0"):
        apply_overrides(get_preset("ci"), ["training.output_scale_stds=0"])
    with pytest.raises(ValueError, match="output_scale=0"):
        OutputScale(0)


def test_the_saved_model_and_the_keras_file_return_q_in_the_models_units(tmp_path, small_model):
    """A model whose tanh outputs +-0.75 must serve +-3 (x 4), through every signature and the Keras file."""
    settings = dataclasses.replace(
        thesis_settings("sampling.sampler=naive_uniform:4", "training.stem_mode=frozen"), image_size=32
    )
    model = build_regressor(settings, small_model.num_parameters)
    assert model.output_scale == 4.0 and model.head_model.get_layer("output_scale").scale == 4.0
    last = model.head_model.get_layer("q")
    signs = np.where(np.arange(small_model.num_parameters) % 2 == 0, 1.0, -1.0)
    last.set_weights([np.zeros_like(last.get_weights()[0]), np.arctanh(0.75 * signs).astype(np.float32)])
    expected = 3.0 * signs
    image = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    png = tf.io.encode_png(image).numpy()

    np.testing.assert_allclose(
        model.predict(image[None].astype(np.float32), verbose=0)[0], expected, rtol=1e-5
    )
    model.save(tmp_path / "regressor.keras")
    restored = keras.models.load_model(tmp_path / "regressor.keras")
    assert restored.output_scale == 4.0
    np.testing.assert_allclose(
        restored.predict(image[None].astype(np.float32), verbose=0)[0], expected, rtol=1e-5
    )

    export_serving_model(model, small_model, str(tmp_path / "serving"), scale=1.0, framing="face")
    assert read_input_framing(str(tmp_path / "serving")) == "face"  # written with the SavedModel
    loaded = tf.saved_model.load(str(tmp_path / "serving"))
    for name in ("serving_default", "serving_mesh"):
        q = loaded.signatures[name](images=tf.constant([png]))["q"].numpy()
        np.testing.assert_allclose(q[0], expected, rtol=1e-5)
    example = tf.train.Example(
        features=tf.train.Features(
            feature={"image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[png]))}
        )
    )
    q = loaded.signatures["serving_examples"](examples=tf.constant([example.SerializeToString()]))["q"]
    np.testing.assert_allclose(q.numpy()[0], expected, rtol=1e-5)


def test_the_samplers_study_scales_each_networks_head_to_its_sampler(tmp_path):
    """In sigma units: paper uniform's limit 1 at scale 1.6 is 1.6; fitted data's from the realistic vectors."""
    from headsynth.data_schemas.parameter_files import save_parameter_file
    from headsynth.study.samplers import plan_study
    from headsynth.study.samplers_networks import entry_train_settings

    config = apply_overrides(
        get_preset("ci"),
        [
            "training.head=mlp",
            "generative.study_samplers=naive_uniform:4,paper_uniform,naive_normal:2,fitted_data",
        ],
    )
    vectors = np.random.default_rng(0).normal(0, 1, (50, 8))
    save_parameter_file(tmp_path / "realistic" / "fit.npz", vectors)
    plan = plan_study(config)
    scales = {
        name: entry_train_settings(config, plan, e, str(tmp_path)).output_scale
        for name, e in plan.entries.items()
    }
    largest = float(np.abs(vectors.astype(np.float32)).max())
    assert scales == pytest.approx(
        {"naive_uniform_4": 4.0, "paper_uniform": 1.6, "naive_normal_2": 6.0, "fitted_data": largest}
    )
    linear = apply_overrides(config, ["training.head=linear"])
    assert {
        entry_train_settings(linear, plan, e, str(tmp_path)).output_scale for e in plan.entries.values()
    } == {1.0}
