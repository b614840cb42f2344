import base64
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from headsynth.components.rendering.render_job import read_examples
from headsynth.components.training.trainer import (
    CaffeInvDecay,
    TrainSettings,
    build_regressor,
    make_dataset,
)
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


def test_training_writes_tensorboard_logs_and_result(trained_regressor):
    out, result = trained_regressor
    assert result["train_steps"] == 12
    assert np.isfinite(result["train_loss"])
    events = list((out / "logs").rglob("events.out.tfevents.*"))
    assert {p.parent.name for p in events} >= {"train", "validation", "hparams"}
    assert json.loads((out / "logs" / "training_result.json").read_text())["train_steps"] == 12


def test_serving_signature_matches_predict_on_rest_shaped_request(
    trained_regressor, rendered_examples, small_model
):
    out, _ = trained_regressor
    loaded = tf.saved_model.load(str(out / "serving"))
    assert set(loaded.signatures) == {"serving_default", "serving_examples"}
    records = read_examples(str(rendered_examples), "eval", 3)
    encoded = [tf.train.Example.FromString(r).features.feature["image"].bytes_list.value[0] for r in records]
    # TF Serving's REST body: {"instances": [{"b64": ...}, ...]} -> a [B] string tensor.
    request = json.loads(json.dumps({"instances": [{"b64": base64.b64encode(e).decode()} for e in encoded]}))
    images = tf.constant([base64.b64decode(i["b64"]) for i in request["instances"]])
    served = loaded.signatures["serving_default"](images=images)
    from_examples = loaded.signatures["serving_examples"](examples=tf.constant(records))
    decoded = np.stack([tf.io.decode_png(e, channels=3).numpy().astype(np.float32) for e in encoded])
    model = keras.models.load_model(out / "logs" / "regressor.keras")
    q = served["q"].numpy()
    assert q.shape == (3, small_model.num_parameters)
    np.testing.assert_allclose(q, model.predict(decoded, verbose=0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(q, from_examples["q"].numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(served["shape_parameters"].numpy(), q[:, :4])
    np.testing.assert_allclose(served["texture_parameters"].numpy(), q[:, 4:])


def test_regressor_config_round_trip_and_validation():
    settings = TrainSettings(image_size=32, backbone="tiny_cnn")
    model = build_regressor(settings, 6)
    clone = model.__class__.from_config(model.get_config())
    assert clone.count_params() == model.count_params()
    with pytest.raises(ValueError, match="Received: num_parameters=0"):
        build_regressor(settings, 0)
