"""The paper's findings are computed from the errors: changing an error flips the claim."""

import numpy as np
import pytest

from headsynth.study.variability_findings import Bootstrap, compute_findings, difference, mean_with_ci


def paper_like_errors(rng, n=300, seeds=3):
    """Errors on test *all* in the paper's order: all < angle_bg < naive < angle, none."""
    yaw = np.linspace(-90, 90, n)
    base = {"all": 2.0, "angle_bg": 4.0, "naive": 5.0, "angle": 8.0, "none": 9.0}
    errors = {}
    for net, level in base.items():
        count = 1 if net == "naive" else seeds
        errors[net] = level + rng.gamma(2.0, 0.25, size=(count, n))
    errors["none"] += np.where(np.abs(yaw - 45) <= 15, -6.0, 0.0) + np.where(
        np.abs(yaw + 45) <= 15, -3.0, 0.0
    )
    errors["all"] += np.where((np.abs(yaw) > 15) & (np.abs(yaw) < 75), -1.0, 0.0)
    return errors, yaw


def claims(findings):
    return {f["claim"]: f["holds"] for f in findings}


def test_every_claim_holds_on_errors_in_the_papers_order():
    errors, yaw = paper_like_errors(np.random.default_rng(0))
    shares = {"none": np.full((3, 20), 0.3), "all": np.full((3, 20), 0.6)}
    found = compute_findings(errors, yaw, shares, resamples=500)
    assert len(found) == 8
    assert all(claims(found).values()), claims(found)
    best = next(f for f in found if f["claim"].startswith("all is the best"))
    assert {c["b"] for c in best["comparisons"]} == {"none", "angle", "angle_bg", "naive"}


@pytest.mark.parametrize(
    "change, claim",
    [
        (
            lambda e: e.__setitem__("angle_bg", e["angle_bg"] + 2.0),
            "angle_bg is better than naive on test all",
        ),
        (
            lambda e: e.__setitem__("all", e["all"] + 3.0),
            "all is the best network on test all (and beats naive)",
        ),
        (lambda e: e.__setitem__("none", e["none"] * 0.1), "none is worse than naive on test all"),
    ],
)
def test_changing_an_error_flips_its_claim(change, claim):
    errors, yaw = paper_like_errors(np.random.default_rng(1))
    assert claims(compute_findings(errors, yaw, {}, resamples=500))[claim]
    change(errors)
    assert not claims(compute_findings(errors, yaw, {}, resamples=500))[claim]


def test_yaw_claims_follow_the_error_curve():
    errors, yaw = paper_like_errors(np.random.default_rng(2))
    errors["none"] = errors["none"] + np.where(np.abs(yaw) <= 15, -10.0, 0.0)  # now best frontal
    found = claims(compute_findings(errors, yaw, {}, resamples=500))
    assert not found["none's error is lowest within +-15 degrees of its training yaw (45)"]
    assert not found["none's error at the mirrored yaw is lower than at the frontal view"]


def test_saliency_claim_compares_shares():
    errors, yaw = paper_like_errors(np.random.default_rng(3))
    claim = "all puts a larger share of its saliency inside the head mask than none"
    rng = np.random.default_rng(4)
    shares = {"none": rng.uniform(0.5, 0.7, (2, 30)), "all": rng.uniform(0.2, 0.4, (2, 30))}
    assert not claims(compute_findings(errors, yaw, shares, resamples=500))[claim]
    shares["all"] += 0.5
    assert claims(compute_findings(errors, yaw, shares, resamples=500))[claim]


def test_bootstrap_ci_covers_the_mean_and_shrinks_with_more_images():
    rng = np.random.default_rng(5)
    small, large = rng.normal(5.0, 1.0, (3, 50)), rng.normal(5.0, 1.0, (3, 2000))
    ci_small = mean_with_ci(small, Bootstrap.of(50, 1000))
    ci_large = mean_with_ci(large, Bootstrap.of(2000, 1000))
    for ci, values in ((ci_small, small), (ci_large, large)):
        assert ci["ci95_low"] < values.mean() < ci["ci95_high"]
        assert (ci["count"], ci["seeds"]) == (values.shape[1], 3)
    assert ci_large["ci95_high"] - ci_large["ci95_low"] < ci_small["ci95_high"] - ci_small["ci95_low"]


def test_seed_spread_widens_the_ci():
    rng = np.random.default_rng(6)
    images = rng.normal(0.0, 1.0, 400)
    agreeing = np.stack([images + 5.0] * 3)
    disagreeing = np.stack([images + 3.0, images + 5.0, images + 7.0])
    boot = Bootstrap.of(400, 1000)
    narrow, wide = mean_with_ci(agreeing, boot), mean_with_ci(disagreeing, boot)
    assert wide["ci95_high"] - wide["ci95_low"] > 5 * (narrow["ci95_high"] - narrow["ci95_low"])
    same = difference(agreeing, agreeing, Bootstrap.of(400, 1000))
    assert same["difference"] == 0.0 and same["ci95"][0] <= 0.0 <= same["ci95"][1]
