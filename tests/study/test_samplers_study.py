"""The samplers study: its plan, units and split (fast), and a miniature study end to end (ci size)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from headsynth import wiring
from headsynth.config import apply_overrides, get_preset
from headsynth.core.errors import ConfigError, ParameterError
from headsynth.study.samplers import plan_study
from headsynth.study.samplers_data import prepare_realistic, sample_training_sets


def test_plan_expands_gmm_sizes_and_fits_what_the_samplers_need():
    plan = plan_study(get_preset("ci"))
    assert list(plan.entries) == [
        "paper_uniform",
        "naive_uniform",
        "naive_normal",
        "composite",
        "meta_normal",
        "gmm_1",
        "gmm_4",
        "cvgan2",
    ]
    assert plan.entries["gmm_4"].options == {"components": 4}
    assert plan.gmm_components == (1, 2, 4) and plan.cgan_variants == ("cvgan2",)
    assert (plan.num_train, plan.train_steps, plan.backbone) == (64, 20, "tiny_cnn")
    quickstart = plan_study(get_preset("quickstart"))
    assert len(quickstart.entries) == 8 and quickstart.backbone == "tiny_cnn"
    assert wiring.samplers_image_size(get_preset("quickstart")) == 64  # the study keeps its own image size
    no_gan = plan_study(apply_overrides(get_preset("ci"), ["generative.study_samplers=paper_uniform,gmm"]))
    assert no_gan.cgan_variants == () and list(no_gan.entries) == ["paper_uniform", "gmm_1", "gmm_4"]
    with pytest.raises(ConfigError, match="Unknown generative.study_samplers \\['uniform'\\]"):
        plan_study(apply_overrides(get_preset("ci"), ["generative.study_samplers=uniform"]))


def test_the_study_compares_identity_with_the_input_render_by_default():
    assert get_preset("quickstart").generative.study_identity_reference == "input"
    with pytest.raises(
        ConfigError, match="study_identity_reference must be truth or input. Received: 'photo'"
    ):
        apply_overrides(get_preset("ci"), ["generative.study_identity_reference=photo"])


def test_seeds_per_sampler_and_bootstrap_resamples_come_from_the_config():
    assert (plan_study(get_preset("ci")).seeds, plan_study(get_preset("quickstart")).seeds) == (1, 3)
    plan = plan_study(
        apply_overrides(get_preset("ci"), ["generative.study_seeds=4", "generative.study_bootstrap=500"])
    )
    assert (plan.seeds, plan.bootstrap) == (4, 500)


@pytest.mark.parametrize(
    "override, message",
    [
        ("generative.study_seeds=0", "generative.study_seeds must be positive. Received: 0."),
        ("generative.study_bootstrap=10", "generative.study_bootstrap must be >= 100. Received: 10."),
    ],
)
def test_bad_study_seeds_and_bootstrap_name_the_problem(override, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        apply_overrides(get_preset("ci"), [override])


def test_training_sets_are_in_sigma_units_and_the_test_identities_are_held_out(tmp_path):
    config = apply_overrides(
        get_preset("ci"),
        ["generative.study_samplers=paper_uniform,naive_uniform", "generative.study_num_train=3000"],
    )
    plan = plan_study(config)
    model, fit, test = prepare_realistic(config, plan, str(tmp_path))
    # The default source: the held-out synthetic population (generative.heldout_size identities).
    assert len(test.q) == 12 and len(fit.q) + len(test.q) == config.generative.heldout_size == 2000
    assert not (set(map(bytes, fit.q)) & set(map(bytes, test.q)))  # disjoint identities
    assert set(test.labels) == {"age", "sex"}
    sets = sample_training_sets(config, plan, model.num_parameters, str(tmp_path))
    paper, naive = sets["paper_uniform"]["q"], sets["naive_uniform"]["q"]
    # The paper's q ~ U[-1, 1] at scale 1.6 enters as U[-1.6, 1.6]; the thesis's U(-4, 4) is at scale 1.
    assert 1.55 < np.abs(paper).max() <= 1.6 + 1e-6 and 3.9 < np.abs(naive).max() <= 4.0
    np.testing.assert_array_equal(np.load(tmp_path / "samples" / "paper_uniform.npz")["q"], paper)
    too_many = apply_overrides(config, ["generative.study_test_identities=1999"])
    with pytest.raises(ParameterError, match="the study needs 2003"):
        prepare_realistic(too_many, plan_study(too_many), str(tmp_path))


def test_cli_registers_the_study(capsys):
    from headsynth.cli.main import main

    assert main(["study", "samplers", "--preset", "ci", "--show-config"]) == 0
    assert json.loads(capsys.readouterr().out)["generative"]["study_num_train"] == 64
    assert main(["study", "samplers", "--preset", "ci", "--set", "generative.gmm_selection=aicc"]) == 2
    assert "Unknown GMM selection rule 'aicc'" in capsys.readouterr().err


def test_miniature_study_writes_its_report(tmp_path):
    """3 networks (paper uniform, GMM 1, CVGAN2) at ci size: every table is filled from the run."""
    from headsynth.study.samplers_run import run_sampler_study

    config = apply_overrides(
        get_preset("ci"),
        [
            "generative.study_samplers=paper_uniform,gmm,cvgan2",
            "generative.study_gmm_components=1",
            "generative.gmm_components=1,2",
            "generative.cgan_steps=20",
            "generative.study_num_train=48",
            "generative.study_train_steps=10",
            "evaluation.identity_examples=3",
            "training.log_renders=0",
            "generative.study_real_photos=true",
            # ci's 32-pixel renders are too small for dlib to find a face in: compare with the truth.
            "generative.study_identity_reference=truth",
        ],
    )
    result = run_sampler_study(config, str(tmp_path))
    study = json.loads((tmp_path / "study.json").read_text())
    assert set(study["errors"]) == {"paper_uniform", "gmm_1", "cvgan2", "naive"}
    naive = study["errors"]["naive"]
    # The naive predictor's error is |q|^2 of the test identities, in sigma units.
    test_q = np.load(tmp_path / "evaluation" / "errors.npz")["q_true"]
    assert naive["mean"] == pytest.approx(
        float(np.mean(np.sum(test_q.astype(np.float64) ** 2, axis=1))), rel=1e-5
    )
    assert all(np.isfinite(row["mean"]) and 1 <= row["rank"] <= 4 for row in study["errors"].values())
    ranks = [row["rank"] for row in study["errors"].values()]
    assert sum(ranks) == pytest.approx(1 + 2 + 3 + 4)  # mean ranks of 4 predictors
    assert [row["network"] for row in study["identity"]["table"]] == [
        "paper_uniform",
        "gmm_1",
        "cvgan2",
        "naive",
    ]
    assert set(study["diversity"]) == {
        "realistic (fitted)",
        "realistic (test)",
        "paper uniform (U[-1,1] x 1.6)",
        "GMM 1",
        "CVGAN2 [500, 500] noise",
    }
    assert study["diversity"]["realistic (fitted)"]["ks"]["total"] == 0.0
    assert [c["components"] for c in study["gmm_candidates"]] == [1, 2]
    report = (tmp_path / "report.html").read_text()
    for text in ("Table 6.6", "Table 6.3", "Table 6.4", "Table 6.5", "Table 5.4", "GMM 1", "CVGAN2"):
        assert text in report, text
    for name in ("pca_sex.png", "pca_age.png", "pca_projection.png", "distortions.png"):
        assert (tmp_path / "diversity" / name).exists(), name
    assert "error rank" in result.table()
    # One seed per sampler at ci size, in nets/<sampler>/seed0; CIs over images and seeds.
    assert (tmp_path / "nets" / "gmm_1" / "seed0" / "serving" / "saved_model.pb").exists()
    assert study["seeds"] == 1 and study["errors"]["gmm_1"]["seeds"] == 1
    assert np.load(tmp_path / "evaluation" / "errors.npz")["errors__gmm_1"].shape == (1, len(test_q))
    identity = {row["network"]: row for row in study["identity"]["table"]}
    assert study["identity"]["measure"] == "dlib" and 1 <= study["identity"]["different_pairs"]["count"] <= 3
    for row in identity.values():
        if row["scored"]:
            assert 0 <= row["calibrated"]["mean"] <= 1 and 0 <= row["corrected_calibrated"]["mean"] <= 1
    findings = {f["claim"]: f for f in study["findings"]}
    assert not findings["naive uniform 4 beats naive normal 1.5 by parameter error"]["tested"]
    rank = findings["CVGAN2 ranks in the lower half of the samplers by corrected identity score"]
    assert rank["tested"] and rank["values"]["of"] == 3 and len(rank["comparisons"]) == 2
    for text in ("Findings", "calibrated", "dlib 1-L2/2", "not tested", "Real photographs"):
        assert text in report, text
    # Every network's seed read the packaged photos; the mean face is the naive row.
    photos = study["real_photos"]
    assert [row["network"] for row in photos["table"]] == ["paper_uniform", "gmm_1", "cvgan2", "naive"]
    assert photos["faces"] == ["astronaut", "camera", "grace_hopper"]
    assert (tmp_path / "evaluation" / "real_photos" / "gmm_1" / "seed0" / "report.html").exists()
    assert "own > mean face" in result.photo_table() and "chance 1/3" in result.photo_table()
    assert study["identity"]["reference"] == "truth"
