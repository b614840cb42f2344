import json

import numpy as np
import pytest

from headsynth.components.evaluation.evaluate import (
    evaluate_model,
    moving_average,
    squared_errors,
    summarize_errors,
)
from headsynth.config import EvaluationConfig
from headsynth.report.figures import violin_statistics


def test_squared_errors_by_hand():
    q_true = np.array([[1.0, -1.0], [0.5, 0.5]])
    q_pred = np.array([[0.0, 0.0], [0.5, -0.5]])
    np.testing.assert_allclose(squared_errors(q_true, q_pred), [2.0, 1.0])


def test_summary_by_hand():
    summary = summarize_errors(np.array([1.0, 2.0, 3.0, 4.0]))
    assert summary.mean == 2.5 and summary.median == 2.5 and summary.count == 4
    half = 1.96 * np.std([1, 2, 3, 4], ddof=1) / 2
    assert summary.ci95_low == pytest.approx(2.5 - half) and summary.ci95_high == pytest.approx(2.5 + half)


def test_moving_average_sorts_by_x():
    x, y = moving_average(np.array([3.0, 1.0, 2.0, 4.0]), np.array([30.0, 10.0, 20.0, 40.0]), 2)
    np.testing.assert_allclose(x, [1.5, 2.5, 3.5])
    np.testing.assert_allclose(y, [15.0, 25.0, 35.0])


def test_violin_statistics_by_hand():
    stats = violin_statistics(np.array([5.0, 1.0, 4.0, 2.0, 3.0]))
    assert (stats["q1"], stats["median"], stats["q3"]) == (2.0, 3.0, 4.0)
    assert (stats["min"], stats["max"], stats["mean"], stats["count"]) == (1.0, 5.0, 3.0, 5)


@pytest.fixture(scope="module")
def evaluated(trained_regressor, rendered_examples, tmp_path_factory):
    """The tiny trained model evaluated with every figure and the identity score."""
    folder, _ = trained_regressor
    out = tmp_path_factory.mktemp("evaluation")
    options = EvaluationConfig(
        saliency_examples=2, moving_average_window=4, identity_examples=4, identity_image_size=128
    )
    metrics = evaluate_model(
        str(folder / "serving"),
        str(rendered_examples),
        str(out),
        keras_model_path=str(folder / "logs" / "regressor.keras"),
        options=options,
    )
    return out, metrics


def test_metrics_and_errors_agree(evaluated):
    out, metrics = evaluated
    assert json.loads((out / "metrics.json").read_text()) == json.loads(json.dumps(metrics))
    errors = np.load(out / "errors.npz")
    assert errors["net"].shape == (16,)
    q_true, q_pred = errors["q_true"].astype(np.float64), errors["q_pred"].astype(np.float64)
    np.testing.assert_allclose(errors["naive"], np.sum(q_true**2, axis=1), rtol=1e-6)
    np.testing.assert_allclose(errors["net"], np.sum((q_pred - q_true) ** 2, axis=1), rtol=1e-6)
    assert metrics["naive"]["mean"] == pytest.approx(errors["naive"].mean())


def test_violin_and_angle_curve_on_tiny_model(evaluated):
    out, metrics = evaluated
    errors = np.load(out / "errors.npz")
    for name in ("net", "naive"):
        ordered = np.sort(errors[name])  # 16 values: linear-interpolated quartiles by hand
        q1 = ordered[3] + 0.75 * (ordered[4] - ordered[3])
        median = (ordered[7] + ordered[8]) / 2
        q3 = ordered[11] + 0.25 * (ordered[12] - ordered[11])
        stats = metrics["violin"][name]
        assert stats["q1"] == pytest.approx(q1) and stats["median"] == pytest.approx(median)
        assert stats["q3"] == pytest.approx(q3)
    curve = metrics["error_vs_yaw"]
    assert curve["window"] == 4 and len(curve["yaw"]) == 16 - 4 + 1
    order = np.argsort(errors["yaw"], kind="stable")
    yaw, net = errors["yaw"][order].astype(np.float64), errors["net"][order]
    for k in (0, 5, 12):
        assert curve["yaw"][k] == pytest.approx(yaw[k : k + 4].mean())
        assert curve["net"][k] == pytest.approx(net[k : k + 4].mean())
    assert np.all(np.diff(curve["yaw"]) >= 0)
    for figure in ("error_violin.png", "error_vs_yaw.png", "saliency.png"):
        assert (out / figure).stat().st_size > 5000


def test_saliency_is_the_input_gradient_of_the_first_parameter(
    trained_regressor, rendered_examples, evaluated
):
    from headsynth.components.evaluation.example_set import load_example_set
    from headsynth.components.evaluation.saliency import load_keras_regressor, saliency_maps
    from headsynth.components.rendering.painter import decode_images

    folder, _ = trained_regressor
    model = load_keras_regressor(str(folder / "logs" / "regressor.keras"))
    examples = load_example_set(str(rendered_examples), "eval", limit=3)
    images = decode_images(examples.images, 32).astype(np.float32)
    saliency, q = saliency_maps(model, images)
    assert saliency.shape == (3, 32, 32) and np.all(np.isfinite(saliency)) and np.all(saliency >= 0)
    assert saliency.max() > 0
    # The Keras model predicts what the exported SavedModel predicted for the same images.
    q_pred = np.load(evaluated[0] / "errors.npz")["q_pred"][:3]
    np.testing.assert_allclose(q, q_pred, atol=1e-4)
    # Central finite differences along the gradient direction match the gradient's norm.
    import tensorflow as tf

    x = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(x)
        target = tf.reduce_sum(model(x, training=False)[:, 0])
    gradient = tape.gradient(target, x).numpy()
    np.testing.assert_allclose(saliency, np.abs(gradient).max(axis=-1), rtol=1e-6)
    for b in range(3):
        direction = gradient[b] / np.linalg.norm(gradient[b])
        h = 1.0  # 0..255 pixel units, spread over the whole image
        plus = model(images[b : b + 1] + h * direction[None], training=False)[0, 0]
        minus = model(images[b : b + 1] - h * direction[None], training=False)[0, 0]
        numeric = float(plus - minus) / (2 * h)
        assert numeric == pytest.approx(np.linalg.norm(gradient[b]), rel=0.05)


def test_report_identity_and_tensorboard(evaluated):
    out, metrics = evaluated
    identity = metrics["identity"]
    assert [row["network"] for row in identity["table"]] == ["net", "naive"]
    assert identity["references_with_face"] >= 1
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 4
    assert 'src="http' not in html and "<script" not in html
    assert f"{metrics['net']['mean']:.3f}" in html
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    assert metrics["report"] == str(out / "report.html")


def test_identity_against_the_input_images(evaluated, rendered_examples, small_model, tmp_path):
    from headsynth.components.evaluation.example_set import load_example_set
    from headsynth.components.evaluation.identity_eval import identity_evaluation
    from headsynth.components.rendering.painter import HeadPainter

    examples = load_example_set(str(rendered_examples), "eval")
    q_pred = np.load(evaluated[0] / "errors.npz")["q_pred"]
    options = EvaluationConfig(identity_reference="input", identity_examples=4, identity_image_size=128)
    result = identity_evaluation(
        examples,
        {"net": q_pred, "naive": np.zeros_like(q_pred)},
        HeadPainter(small_model),
        options,
        str(tmp_path),
    )
    assert result["reference"] == "input" and len(result["examples"]) == 4
    # Inputs seen from the side may show no detectable face: they are counted, not fatal.
    assert 0 <= result["references_with_face"] <= 4
    for row in result["table"]:
        assert row["scored"] <= result["references_with_face"] and row["images"] == 4
    # NaN (nothing scored) is written as JSON null.
    assert json.loads((tmp_path / "identity.json").read_text())["table"] == result["table"]
