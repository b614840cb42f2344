"""The samplers study's findings are computed from its numbers: changing one number flips the claim."""

import numpy as np
import pytest

from headsynth.study.samplers import study_entries
from headsynth.study.samplers_findings import compute_sampler_findings
from headsynth.study.samplers_identity import seed_ranks

ENTRIES = study_entries(("naive_uniform", "naive_normal", "gmm", "cvgan2"), (1,))
# Levels in the thesis's order of the claims: uniform 4 better than normal 1.5, GMM 1 better than uniform.
SCORES = {"naive_uniform": 0.80, "naive_normal": 0.75, "gmm_1": 0.85, "cvgan2": 0.70, "naive": 0.60}
ERRORS = {"naive_uniform": 3.0, "naive_normal": 4.0, "gmm_1": 2.0, "cvgan2": 5.0, "naive": 6.0}


def tiny_result(scores=SCORES, errors=ERRORS, seeds=2, n=40):
    rng = np.random.default_rng(0)
    corrected = {
        k: v + rng.normal(0, 0.01, size=(1 if k == "naive" else seeds, n)) for k, v in scores.items()
    }
    error = {k: v + rng.gamma(2.0, 0.1, size=(1 if k == "naive" else seeds, n)) for k, v in errors.items()}
    return error, corrected


def holds(findings):
    return {f["claim"]: f["holds"] for f in findings}


def test_every_claim_of_a_run_in_the_claims_order_holds():
    errors, corrected = tiny_result()
    found = compute_sampler_findings(ENTRIES, errors, corrected, resamples=300)
    assert holds(found) == {
        "naive uniform 4 beats naive normal sigma 1.5 by corrected identity score": True,
        "naive uniform 4 beats naive normal sigma 1.5 by parameter error": True,
        "GMM 1 beats naive uniform 4 by corrected identity score": True,
        "GMM 1 beats naive uniform 4 by parameter error": True,
        "CVGAN2 ranks in the lower half of the samplers by corrected identity score": True,
    }
    rank = found[-1]
    assert rank["values"]["position"] == 4 and rank["values"]["of"] == 4
    first = found[0]["comparisons"][0]
    assert first["difference"] == pytest.approx(0.05, abs=0.01)
    assert first["ci95"][0] > 0 and first["ci95"][0] < first["difference"] < first["ci95"][1]


@pytest.mark.parametrize(
    "changes, claim",
    [
        ({"naive_normal": 0.85}, "naive uniform 4 beats naive normal sigma 1.5 by corrected identity score"),
        ({"gmm_1": 0.80}, "GMM 1 beats naive uniform 4 by corrected identity score"),
        ({"cvgan2": 0.90}, "CVGAN2 ranks in the lower half of the samplers by corrected identity score"),
    ],
)
def test_one_changed_score_flips_its_claim(changes, claim):
    errors, corrected = tiny_result(scores={**SCORES, **changes})
    found = holds(compute_sampler_findings(ENTRIES, errors, corrected, resamples=300))
    assert found[claim] is False
    assert sum(v is False for v in found.values()) == 1, found


def test_one_changed_error_flips_its_claim_and_without_identity_the_rank_is_by_error():
    errors, _ = tiny_result(errors={**ERRORS, "naive_normal": 2.5})
    found = holds(compute_sampler_findings(ENTRIES, errors, {}, resamples=300))
    assert found == {
        "naive uniform 4 beats naive normal sigma 1.5 by parameter error": False,
        "GMM 1 beats naive uniform 4 by parameter error": True,
        "CVGAN2 ranks in the lower half of the samplers by parameter error": True,
    }


def test_claims_about_samplers_not_in_the_run_are_not_tested():
    entries = study_entries(("naive_uniform:3.5", "naive_normal", "paper_uniform"), (1,))
    errors = {
        "naive_uniform_3.5": np.ones((1, 5)),
        "naive_normal": np.ones((1, 5)),
        "paper_uniform": np.ones((1, 5)),
    }
    found = compute_sampler_findings(entries, {**errors, "naive": np.ones((1, 5))}, {}, resamples=100)
    assert [f["tested"] for f in found] == [False, False, False]
    assert all(f["holds"] is None and f["note"].startswith("not tested") for f in found)


def test_ranks_are_per_seed_then_averaged():
    # Seed 0: a beats b on every image; seed 1: b beats a; naive (one row) is last in both.
    scores = {
        "a": np.array([[3.0, 3.0], [1.0, 1.0]]),
        "b": np.array([[2.0, 2.0], [2.0, 2.0]]),
        "naive": np.zeros((1, 2)),
    }
    ranks, ranked = seed_ranks(scores)
    np.testing.assert_allclose(ranks, [1.5, 1.5, 3.0])
    assert ranked == 2
