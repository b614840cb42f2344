"""benchmarks/real_photos.py's pure parts: arguments, the two designs' configs, the tables (no pipeline runs)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

from headsynth.config import get_preset

PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "real_photos.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("benchmark_real_photos", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_arguments_defaults_and_flags(bench):
    args = bench.parse_args([])
    assert (args.out, args.quick, args.num_train, args.keep) == (bench.DEFAULT_OUT, False, None, False)
    args = bench.parse_args(["--out", "x", "--quick", "--num-train", "300", "--keep"])
    assert (args.out, args.quick, args.num_train, args.keep) == ("x", True, 300, True)
    with pytest.raises(SystemExit):
        bench.parse_args(["--num-train", "0"])


def test_designs_share_the_scenes_and_differ_in_framing_and_network(bench):
    args = bench.parse_args([])
    new, old = bench.design_config("new", args), bench.design_config("old", args)
    preset = get_preset("quickstart")
    # The new design is the preset itself, less its own real-photo step (the benchmark scores both).
    assert new.training == preset.training and new.rendering == preset.rendering
    assert new.evaluation.real_photos == "" and old.evaluation.real_photos == ""
    for section in ("face_model", "sampling"):
        assert getattr(old, section) == getattr(preset, section)
    assert old.rendering.scenario == new.rendering.scenario == "portrait"
    assert (old.rendering.framing, old.rendering.image_size) == ("full", 64)
    t = old.training
    assert (t.backbone, t.head, t.stem_mode, t.cache_stem_features) == (
        "small_cnn",
        "linear",
        "trained",
        False,
    )
    assert (t.base_learning_rate, t.lr_gamma, t.batch_size, t.train_steps, t.steps_per_epoch) == (
        1e-3,
        1e-4,
        32,
        2000,
        250,
    )
    with pytest.raises(ValueError, match="Unknown design"):
        bench.design_overrides("newest", args)


def test_quick_and_num_train_shrink_both_designs_alike(bench):
    args = bench.parse_args(["--quick", "--num-train", "321"])
    configs = [bench.design_config(d, args) for d in bench.DESIGNS]
    for config in configs:
        assert config.sampling.num_train == 321  # --num-train comes after --quick's 600
        assert config.training.train_steps == 150
    assert configs[0].sampling == configs[1].sampling


def _result(owns, means, ranks, verified, errors):
    faces = [
        {"name": n, "own_similarity": o, "mean_face_similarity": m, "rank": r, "landmark_error": e}
        for n, o, m, r, e in zip(
            ("astronaut", "camera", "grace_hopper"), owns, means, ranks, errors, strict=True
        )
    ]
    finite = [(o, m) for o, m in zip(owns, means, strict=True) if not math.isnan(o)]
    return {
        "summary": {
            "faces": 3,
            "own_above_mean_face": sum(o > m for o, m in finite),
            "rank1": sum(r == 1 for r in ranks),
            "rank1_chance": 1 / 3,
            "verified": verified,
            "mean_face_verified": 0,
            "landmark_error_mean": sum(e for e in errors if e is not None) / 3,
        },
        "faces": faces,
    }


def test_tables_from_two_results(bench):
    means = [0.90, 0.85, 0.80]
    new = _result([0.95, 0.84, 0.83], means, [1, 2, 1], 1, [0.1, 0.2, 0.3])
    # The old design's camera reconstruction has no face in its rendering: not scored, left out of the gap.
    old = _result([0.91, float("nan"), 0.78], means, [2, float("nan"), 3], 0, [0.4, 0.5, 0.6])
    figures = {
        "new": bench.design_figures({"net_error": 0.5, "naive_error": 1.0, "seconds": 400}, new),
        "old": bench.design_figures({"net_error": 0.9, "naive_error": 1.0, "seconds": 300}, old),
    }
    assert figures["new"]["own_minus_mean_face"] == pytest.approx((0.05 - 0.01 + 0.03) / 3)
    assert figures["old"]["own_minus_mean_face"] == pytest.approx((0.01 - 0.02) / 2)
    assert figures["old"]["own_minus_mean_face_min"] == pytest.approx(-0.02)
    summary = dict((row[0], row[1:]) for row in bench.summary_rows(figures))
    assert summary["net / naive"] == ("0.500", "0.900", "0.556")  # the last cell: new / old
    assert summary["pipeline time"] == ("400 s", "300 s", "1.333")
    assert summary["own photo above mean face"] == ("2/3", "1/3", "")
    assert summary["rank-1 (chance)"] == ("2/3 (0.33)", "0/3 (0.33)", "")
    assert summary["own - mean face cosine [range]"] == (
        "+0.023 [-0.010, +0.050]",
        "-0.005 [-0.020, +0.010]",
        "",
    )
    photos = bench.photo_rows(figures)
    assert photos[0] == ("face", "new own (rank)", "old own (rank)", "mean face")
    assert photos[2] == ("camera", "0.840 (2)", "n/a (n/a)", "0.850")
    text = bench.report_text(figures)
    assert "| landmark error (IOD)" in text and "| grace_hopper" in text


def test_photo_rows_show_each_designs_mean_face_when_they_differ(bench):
    new = _result([0.95, 0.84, 0.83], [0.90, 0.85, 0.80], [1, 1, 1], 3, [0.1, 0.1, 0.1])
    old = _result([0.95, 0.84, 0.83], [0.91, 0.85, 0.80], [1, 1, 1], 3, [0.1, 0.1, 0.1])
    run = {"net_error": 1.0, "naive_error": 1.0}
    rows = bench.photo_rows({"new": bench.design_figures(run, new), "old": bench.design_figures(run, old)})
    assert rows[0][-2:] == ("new mean face", "old mean face")
    assert rows[1][-2:] == ("0.900", "0.910")
