import dataclasses
import json
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from headsynth.components.training.fit import train_regressor
from headsynth.components.training.inputs import make_dataset
from headsynth.components.training.model import (
    CaffeInvDecay,
    build_regressor,
    make_optimizer,
    make_strategy,
)
from headsynth.components.training.settings import TrainSettings
from headsynth.components.training.trainer import settings_from_fn_args
from headsynth.config import TrainingConfig, get_preset, validate
from headsynth.core.errors import ConfigError
from headsynth.data_schemas.render_summary import rendered_scale
from headsynth.models.backbones import build_backbone
from headsynth.models.regressor import squared_euclidean_loss


@pytest.mark.parametrize("step", [0, 1, 10, 1000, 1_000_000])
def test_inv_schedule_matches_caffe_formula(step):
    schedule = CaffeInvDecay(1e-4, 0.1, 0.75)
    expected = 1e-4 * (1 + 0.1 * step) ** -0.75
    assert float(schedule(step)) == pytest.approx(expected, rel=1e-5)


def test_inv_schedule_round_trips_its_config():
    schedule = CaffeInvDecay(3e-4, 0.01, 0.5)
    clone = CaffeInvDecay.from_config(schedule.get_config())
    assert float(clone(123)) == pytest.approx(float(schedule(123)))
    with pytest.raises(ValueError, match="Received: -1"):
        CaffeInvDecay(-1, 0.1, 0.75)


def test_paper_optimizer_is_sgd_momentum_on_the_inv_schedule():
    training = TrainingConfig(
        optimizer="sgd", base_learning_rate=1e-4, lr_gamma=0.1, lr_power=0.75, momentum=0.9
    )
    optimizer = make_optimizer(training)
    assert isinstance(optimizer, keras.optimizers.SGD) and optimizer.momentum == 0.9
    for step in (0, 7, 5000):
        optimizer.iterations.assign(step)
        assert float(np.asarray(optimizer.learning_rate)) == pytest.approx(
            1e-4 * (1 + 0.1 * step) ** -0.75, rel=1e-5
        )
    assert isinstance(make_optimizer(dataclasses.replace(training, optimizer="adam")), keras.optimizers.Adam)


def test_loss_is_squared_euclidean_distance():
    y_true = np.array([[1.0, 2.0], [0.0, 0.0]], np.float32)
    y_pred = np.array([[0.0, 0.0], [3.0, 4.0]], np.float32)
    np.testing.assert_allclose(np.asarray(squared_euclidean_loss(y_true, y_pred)), [5.0, 25.0])


def test_dataset_yields_decoded_images_and_q(rendered_examples, small_model):
    dataset = make_dataset(
        str(rendered_examples / "Split-train" / "*"), small_model.num_parameters, 32, 4, False
    )
    images, q = next(iter(dataset))
    assert images.shape == (4, 32, 32, 3) and q.shape == (4, small_model.num_parameters)
    assert 0.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 255.0


def read_runs(log_dir):
    """{run: EventAccumulator} for the TensorBoard runs under `log_dir`."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    runs = {}
    for run in ("train", "validation", "hparams", "inputs", "renders"):
        runs[run] = EventAccumulator(str(log_dir / run), size_guidance={"tensors": 0})
        runs[run].Reload()
    return runs


def test_training_writes_tensorboard_logs_checkpoints_and_result(trained_regressor):
    out, result = trained_regressor
    assert result["train_steps"] == 12
    assert np.isfinite(result["train_loss"]) and np.isfinite(result["val_loss"])
    runs = read_runs(out / "logs")
    tags = {run: set(accumulator.Tags()["tensors"]) for run, accumulator in runs.items()}
    assert "learning_rate" in tags["train"] and "epoch_loss" in tags["train"]
    assert "epoch_loss" in tags["validation"]
    assert {"_hparams_/session_start_info", "hparams/val_loss"} <= tags["hparams"]
    assert "training_inputs" in tags["inputs"]
    training = TrainingConfig()  # the fixture's schedule: the config's defaults
    logged = {e.step: float(tf.make_ndarray(e.tensor_proto)) for e in runs["train"].Tensors("learning_rate")}
    assert 12 in logged and len(logged) >= 3
    for step, value in logged.items():
        expected = training.base_learning_rate * (1 + training.lr_gamma * step) ** -training.lr_power
        assert value == pytest.approx(expected, rel=1e-5)
    assert "eval/input_predicted_true" in tags["renders"]
    assert (out / "logs" / "checkpoints" / "latest.weights.h5").exists()
    assert json.loads((out / "logs" / "training_result.json").read_text())["train_steps"] == 12


def test_learning_curves_hold_an_inference_mode_training_loss_per_epoch(
    trained_regressor, rendered_examples, small_model
):
    out, result = trained_regressor
    curves = result["curves"]
    assert curves["step"] == [6.0, 12.0]  # 12 steps, 6 per epoch
    for name in ("train_loss", "train_inference_loss", "val_loss"):
        assert len(curves[name]) == 2 and all(np.isfinite(curves[name]))
    assert result["train_inference_loss"] == curves["train_inference_loss"][-1]
    # Recomputed by hand: the final model, in inference mode, on the probe (the first eval_steps=2
    # batches of 8 of the unshuffled training files).
    model = keras.models.load_model(out / "logs" / "regressor.keras")
    images, q = next(
        iter(
            make_dataset(
                str(rendered_examples / "Split-train" / "*"),
                small_model.num_parameters,
                32,
                16,
                False,
                repeat=False,
            )
        )
    )
    expected = np.sum((model(images, training=False).numpy() - q.numpy()) ** 2, axis=-1).mean()
    assert curves["train_inference_loss"][-1] == pytest.approx(expected, rel=1e-4)
    runs = read_runs(out / "logs")
    assert "epoch_train_inference_loss" in runs["train"].Tags()["tensors"]


def test_channel_input_mean_subtracts_one_value_per_channel(tmp_path, rendered_examples, small_model):
    settings = TrainSettings(
        training=TrainingConfig(
            batch_size=8,
            train_steps=2,
            eval_steps=1,
            steps_per_epoch=2,
            backbone="tiny_cnn",
            input_mean="channel",
        ),
        image_size=32,
    )
    train_regressor(
        str(rendered_examples / "Split-train" / "*"),
        str(rendered_examples / "Split-eval" / "*"),
        small_model,
        settings,
        str(tmp_path / "serving"),
        str(tmp_path / "logs"),
    )
    mean = keras.models.load_model(tmp_path / "logs" / "regressor.keras").preprocess.mean_image.numpy()
    np.testing.assert_array_equal(mean, np.broadcast_to(mean[0, 0], mean.shape))
    assert np.ptp(mean[0, 0]) > 0  # three different channel means


def test_mean_image_comes_from_its_own_pass_over_the_training_files(
    trained_regressor, rendered_examples, small_model
):
    # The training set (48 examples) is smaller than the 512 the mean is taken over, so a mean read
    # from its own unshuffled pass is exactly the set's mean. A mean read from the shuffled, repeated
    # training dataset would not be, and would advance that dataset's shared reshuffle seeds by a
    # timing-dependent amount, which changed the batch order of `fit` from run to run.
    out, _ = trained_regressor
    model = keras.models.load_model(out / "logs" / "regressor.keras")
    images = np.concatenate(
        [
            batch.numpy()
            for batch, _ in make_dataset(
                str(rendered_examples / "Split-train" / "*"),
                small_model.num_parameters,
                32,
                16,
                False,
                repeat=False,
            )
        ]
    )
    assert len(images) == 48
    np.testing.assert_allclose(model.preprocess.mean_image.numpy(), images.mean(axis=0), atol=1e-3)


def test_prediction_panels_show_input_prediction_and_truth(trained_regressor, small_model):
    from headsynth.components.training.summaries import prediction_panels

    out, _ = trained_regressor
    model = keras.models.load_model(out / "logs" / "regressor.keras")
    images = np.full((2, 32, 32, 3), 200.0, np.float32)
    q = np.zeros((2, small_model.num_parameters), np.float32)
    panels = prediction_panels(model, small_model, 1.6, images, q)
    assert panels.shape == (2, 32, 96, 3) and 0.0 <= panels.min() and panels.max() <= 1.0
    np.testing.assert_allclose(panels[:, :, :32], 200.0 / 255.0)
    assert panels[:, :, 64:].std() > 0.01  # the true render shows a head, not a flat image


def train_tiny(tmp_path, rendered_examples, small_model, **overrides):
    settings = TrainSettings(
        training=TrainingConfig(
            **{
                **dict(
                    batch_size=8,
                    train_steps=5,
                    eval_steps=1,
                    steps_per_epoch=3,
                    backbone="tiny_cnn",
                    log_renders=0,
                ),
                **overrides,
            }
        ),
        image_size=32,
    )
    result = train_regressor(
        str(rendered_examples / "Split-train" / "*"),
        str(rendered_examples / "Split-eval" / "*"),
        small_model,
        settings,
        str(tmp_path / "serving"),
        str(tmp_path / "logs"),
    )
    return settings, result, keras.models.load_model(tmp_path / "logs" / "regressor.keras")


@pytest.mark.parametrize(
    "overrides",
    [dict(distribution="mirrored"), dict(cache_stem_features=True), dict(head="mlp")],
    ids=["mirrored", "cached_features", "mlp_head_uncached"],
)
def test_frozen_stem_keeps_its_weights_while_the_head_learns(
    tmp_path, rendered_examples, small_model, overrides
):
    # A "pretrained" stem: a freshly built backbone with non-trivial weights and BN statistics, saved to a file.
    stem = build_backbone("tiny_cnn", 32)
    rng = np.random.default_rng(0)
    stem.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32) for w in stem.get_weights()])
    path = tmp_path / "stem.weights.h5"
    stem.save_weights(path)
    settings, result, model = train_tiny(
        tmp_path, rendered_examples, small_model, stem_weights=str(path), stem_mode="frozen", **overrides
    )
    assert result["train_steps"] == 5 and np.isfinite(result["val_loss"])
    assert result["trainable_parameters"] == sum(
        int(np.prod(w.shape)) for w in model.head_model.trainable_weights
    )
    for before, after in zip(stem.get_weights(), model.backbone.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)  # kernels, gamma/beta and moving statistics alike
    # The head starts from the same seeded initial values in a fresh build, so any difference is training's.
    keras.utils.set_random_seed(settings.training.seed)
    initial = build_regressor(settings, small_model.num_parameters)
    keras.utils.set_random_seed(settings.training.seed)
    assert all(
        np.array_equal(a, b)
        for a, b in zip(
            initial.head_model.get_weights(),
            build_regressor(settings, small_model.num_parameters).head_model.get_weights(),
            strict=True,
        )
    )
    changed = [
        not np.allclose(a, b)
        for a, b in zip(initial.head_model.get_weights(), model.head_model.get_weights(), strict=True)
    ]
    assert all(changed)
    if settings.training.head == "mlp":  # standardised by the frozen stem's features, cached or not
        standardization = model.head_model.get_layer("feature_standardization")
        assert np.any(np.asarray(standardization.mean) != 0)
        assert np.any(np.asarray(standardization.inverse_std) != 1)


def test_stem_trained_from_block_changes_only_later_blocks(tmp_path, rendered_examples, small_model):
    stem = build_backbone("tiny_cnn", 32)
    path = tmp_path / "stem.weights.h5"
    stem.save_weights(path)
    _, _, model = train_tiny(
        tmp_path,
        rendered_examples,
        small_model,
        stem_weights=str(path),
        stem_mode="from_block",
        stem_train_from_block=2,
        train_steps=3,
    )
    for layer in stem.layers:
        if not layer.weights:
            continue
        same = all(
            np.array_equal(a, b)
            for a, b in zip(
                layer.get_weights(), model.backbone.get_layer(layer.name).get_weights(), strict=True
            )
        )
        assert same == layer.name.startswith(("stage0_", "stage1_")), layer.name


def test_strategies_from_config():
    assert make_strategy("default") is tf.distribute.get_strategy()
    assert isinstance(make_strategy("one_device"), tf.distribute.OneDeviceStrategy)
    with pytest.raises(ValueError, match="Received: distribution='tpu'"):
        make_strategy("tpu")


@pytest.mark.parametrize(
    "training, message",
    [
        (dict(stem_mode="half"), "training.stem_mode must be"),
        (dict(stem_mode="from_block", stem_train_from_block=0), "stem_train_from_block must be >= 1"),
        (dict(cache_stem_features=True), "cache_stem_features needs training.stem_mode=frozen"),
        (dict(distribution="tpu"), "training.distribution must be"),
        (dict(log_renders=-1), "log_renders must be >= 0"),
        (dict(input_mean="pixel"), "training.input_mean must be image or channel"),
        (dict(stem_weights="weights.pt"), "must be empty, imagenet, or a"),
        (dict(stem_weights="/nowhere/stem.npz"), "does not exist"),
    ],
)
def test_config_validates_training_fields(training, message):
    config = get_preset("ci")
    config = dataclasses.replace(config, training=dataclasses.replace(config.training, **training))
    with pytest.raises(ConfigError, match=message):
        validate(config)


def test_train_settings_round_trip_and_read_the_rendered_scale(rendered_examples):
    settings = TrainSettings(
        training=TrainingConfig(backbone="tiny_cnn", batch_size=8, stem_mode="frozen"),
        image_size=32,
        scale=1.2,
    )
    values = json.loads(json.dumps(settings.to_dict()))  # TFX passes custom_config as JSON
    assert TrainSettings.from_dict({**values, "backup_root": "/backups", "unknown": 1}) == settings
    assert list(settings.flat_dict()) == [*TrainingConfig.__dataclass_fields__, "image_size", "scale"]
    assert TrainSettings.from_dict({"scale": 1.2, "unknown": 1}).scale == 1.2
    assert rendered_scale(str(rendered_examples)) == pytest.approx(1.6)


def test_run_fn_settings_take_the_trainer_steps_and_the_rendered_scale(rendered_examples):
    fn_args = types.SimpleNamespace(
        custom_config={**TrainSettings(scale=1.2).replace(batch_size=8).to_dict(), "backup_root": "/backups"},
        train_steps=7,
        eval_steps=2,
        train_files=[str(rendered_examples / "Split-train" / "*")],
    )
    settings = settings_from_fn_args(fn_args)
    assert (settings.training.train_steps, settings.training.eval_steps) == (7, 2)
    assert settings.training.batch_size == 8 and settings.scale == pytest.approx(1.6)


def test_regressor_config_round_trip_and_validation():
    settings = TrainSettings(training=TrainingConfig(backbone="tiny_cnn"), image_size=32)
    model = build_regressor(settings, 6)
    clone = model.__class__.from_config(model.get_config())
    assert clone.count_params() == model.count_params()
    with pytest.raises(ValueError, match="Received: num_parameters=0"):
        build_regressor(settings, 0)
