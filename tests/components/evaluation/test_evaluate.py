import json

import numpy as np
import pytest

from headsynth.components.evaluation.evaluate import (
    evaluate_model,
    moving_average,
    squared_errors,
    summarize_errors,
)


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


def test_evaluate_model_writes_metrics_and_figures(tmp_path, rendered_examples, small_model):
    from headsynth.components.training.trainer import TrainSettings, train_regressor

    settings = TrainSettings(
        batch_size=8, train_steps=4, eval_steps=1, steps_per_epoch=4, image_size=32, backbone="tiny_cnn"
    )
    train_regressor(
        str(rendered_examples / "Split-train" / "*"),
        str(rendered_examples / "Split-eval" / "*"),
        small_model,
        settings,
        str(tmp_path / "serving"),
        str(tmp_path / "logs"),
    )
    metrics = evaluate_model(str(tmp_path / "serving"), str(rendered_examples), str(tmp_path / "eval"))
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(metrics))
    errors = np.load(tmp_path / "eval" / "errors.npz")
    assert errors["net"].shape == (16,)
    np.testing.assert_allclose(
        errors["naive"], np.sum(errors["q_true"].astype(np.float64) ** 2, axis=1), rtol=1e-6
    )
    np.testing.assert_allclose(
        errors["net"],
        np.sum((errors["q_pred"].astype(np.float64) - errors["q_true"]) ** 2, axis=1),
        rtol=1e-6,
    )
    assert metrics["naive"]["mean"] == pytest.approx(errors["naive"].mean())
    for figure in ("error_violin.png", "error_vs_yaw.png"):
        assert (tmp_path / "eval" / figure).stat().st_size > 5000
