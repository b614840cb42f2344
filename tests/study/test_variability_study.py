"""The variability study: a tiny two-scenario study, and (slow) the ci preset through the command line."""

import json
import os

import numpy as np
import pytest

TINY = [
    "evaluation.study_scenarios=none,all",
    "sampling.num_train=32",
    "sampling.num_eval=16",
    "training.train_steps=6",
    "training.steps_per_epoch=3",
    "training.eval_steps=1",
    "training.batch_size=8",
    "evaluation.identity_examples=3",
    "evaluation.saliency_examples=1",
]


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    from headsynth.config import apply_overrides, get_preset
    from headsynth.study.variability import run_variability_study

    config = apply_overrides(get_preset("ci"), TINY)
    out = tmp_path_factory.mktemp("study")
    return config, out, run_variability_study(config, str(out))


def test_matrix_comes_from_the_run(tiny_study):
    from headsynth.components.evaluation.evaluate import load_example_set, predict_examples, squared_errors

    config, out, result = tiny_study
    saved = json.loads((out / "study.json").read_text())
    assert saved["scenarios"] == ["none", "all"]
    errors = np.load(out / "evaluation" / "errors.npz")
    for net in ("none", "all"):
        for test in ("none", "all"):
            values = errors[f"{net}__on__{test}"]
            cell = saved["matrix"][net][test]
            half = 1.96 * values.std(ddof=1) / np.sqrt(len(values))
            assert cell["count"] == 16
            assert cell["mean"] == pytest.approx(values.mean())
            assert (cell["ci95_low"], cell["ci95_high"]) == (
                pytest.approx(values.mean() - half),
                pytest.approx(values.mean() + half),
            )
    # One cell recomputed from scratch: the "none" network on the shared "all" test set.
    examples = load_example_set(str(out / "data" / "all"), "eval")
    q_pred = predict_examples(str(out / "nets" / "none" / "serving"), examples.records)
    np.testing.assert_allclose(errors["none__on__all"], squared_errors(examples.q, q_pred), rtol=1e-6)
    np.testing.assert_allclose(errors["naive__on__all"], np.sum(examples.q.astype(np.float64) ** 2, axis=1))
    # The test sets are shared: every network was evaluated on the same rendered examples.
    assert sorted(os.listdir(out / "data")) == ["all", "none"]
    assert saved["naive"]["none"]["mean"] == pytest.approx(saved["naive"]["all"]["mean"])  # same q


def test_report_has_matrix_and_figures(tiny_study):
    config, out, result = tiny_study
    html = (out / "report.html").read_text()
    assert result.report == str(out / "report.html")
    for net in ("none", "all"):
        for test in ("none", "all"):
            cell = result.matrix[net][test]
            assert f"{cell['mean']:.3f} [{cell['ci95_low']:.3f}, {cell['ci95_high']:.3f}]" in html
    for figure in ("error_violins.png", "error_vs_yaw.png", "saliency.png", "identity_distributions.png"):
        assert (out / "evaluation" / figure).stat().st_size > 5000
        assert figure in result.figures
    assert html.count("data:image/png;base64,") >= 6
    assert 'src="http' not in html
    table = result.identity["table"]
    assert [row["network"] for row in table] == ["none", "all", "naive"]
    ranks = [row["rank"] for row in table if row["ranked_images"]]
    assert not ranks or sum(ranks) == pytest.approx(1 + 2 + 3)  # ranks of 3 networks average to 2
    assert list((out / "tensorboard" / "figures").glob("events.*"))
    assert list((out / "tensorboard" / "net_naive").glob("events.*"))


def test_rerun_reuses_rendering_and_training(tiny_study):
    from headsynth.study.variability import prepare_data, train_networks

    config, out, _ = tiny_study
    saved_model = out / "nets" / "all" / "serving" / "saved_model.pb"
    shard_times = {p: p.stat().st_mtime for p in (out / "data").rglob("*.gz")}
    before = saved_model.stat().st_mtime
    model, data_dirs, _ = prepare_data(config, str(out))
    train_networks(config, str(out), model, data_dirs)
    assert saved_model.stat().st_mtime == before
    assert {p: p.stat().st_mtime for p in (out / "data").rglob("*.gz")} == shard_times


def test_study_renders_over_the_backgrounds_folder(tmp_path, photo_folder, photo_colours):
    """Scenario angle_bg: every background pixel comes from the folder's photographs."""
    from headsynth.components.evaluation.evaluate import load_example_set
    from headsynth.components.rendering.painter import decode_images
    from headsynth.config import apply_overrides, get_preset
    from headsynth.study.variability import prepare_data

    config = apply_overrides(
        get_preset("ci"),
        [
            "evaluation.study_scenarios=angle_bg",
            "sampling.num_train=2",
            "sampling.num_eval=6",
            "rendering.num_shards=1",
            f"rendering.backgrounds={photo_folder}",
        ],
    )
    _, data_dirs, _ = prepare_data(config, str(tmp_path))
    render = json.loads((tmp_path / "data" / "angle_bg" / "render.json").read_text())
    assert render["job"]["backgrounds"] == str(photo_folder)
    images = decode_images(load_example_set(data_dirs["angle_bg"], "eval").images)
    corners = images[:, [0, 0, -1, -1], [0, -1, 0, -1]].reshape(-1, 3)  # far from the head
    assert {tuple(int(v) for v in rgb) for rgb in corners} <= set(photo_colours)


def test_beam_args_reach_the_study_config(capsys):
    from headsynth.cli.main import main

    argv = ["study", "variability", "--preset", "ci", "--beam-arg=--direct_num_workers=2", "--show-config"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["rendering"]["beam_args"][-1] == "--direct_num_workers=2"


@pytest.mark.slow
def test_ci_study_command(tmp_path, capsys):
    from headsynth.cli.main import main

    out = tmp_path / "study"
    assert main(["study", "variability", "--preset", "ci", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    saved = json.loads((out / "study.json").read_text())
    assert list(saved["matrix"]) == ["none", "angle", "angle_bg", "all"]
    assert printed.strip().splitlines()[-1] == f"Report: {out / 'report.html'}"
    html = (out / "report.html").read_text()
    assert all(f"{saved['matrix'][n]['all']['mean']:.3f}" in html for n in saved["matrix"])
