"""The identity score's arithmetic, checked against hand-computed values."""

import numpy as np
import pytest

from headsynth.components.identity.scores import (
    compare_networks,
    corrected_score,
    cosine_similarity,
    instance_sigma,
    mean_ci,
    mean_ranks,
    same_and_different,
    similarity_matrix,
)


def test_corrected_score_by_hand():
    # Eq. 6.2: s if sigma < 1, else s / sigma**(1/n).  2**(1/30) = 1.0233739, 2**(1/10) = 1.0717735.
    scores = np.array([0.8, 0.8, 0.9, 0.6])
    sigmas = np.array([0.5, 2.0, 1.0, 0.999])
    np.testing.assert_allclose(corrected_score(scores, sigmas, 30), [0.8, 0.7817280, 0.9, 0.6], rtol=1e-6)
    assert corrected_score(0.8, 2.0, 10) == pytest.approx(0.7464264, rel=1e-6)
    # A stronger penalty (smaller n) never raises the score; sigma below 1 is never penalised.
    assert corrected_score(0.8, 3.0, 5) < corrected_score(0.8, 3.0, 30) < 0.8
    with pytest.raises(ValueError, match="positive"):
        corrected_score(0.8, 2.0, 0)


def test_instance_sigma_is_mean_abs_p_over_sigma():
    q = np.array([[0.5, -0.5, 1.0, 0.0], [1.0, 1.0, -1.0, -1.0]])
    # p / sigma = 1.6 q, so mean |p| / sigma = 1.6 * mean |q|.
    np.testing.assert_allclose(instance_sigma(q, 1.6), [1.6 * 0.5, 1.6 * 1.0])


def test_mean_ranks_by_hand():
    scores = np.array(
        [
            [0.9, 0.8, 0.7],  # ranks 1, 2, 3
            [0.6, 0.8, 0.7],  # ranks 3, 1, 2
            [0.5, 0.5, 0.9],  # ranks 2.5, 2.5, 1 (a tie shares the mean rank)
            [0.9, np.nan, 0.1],  # unscored for one network: left out of every network's ranks
        ]
    )
    ranks, used = mean_ranks(scores)
    np.testing.assert_allclose(ranks, [6.5 / 3, 5.5 / 3, 2.0])
    assert used == 3


def test_compare_networks_by_hand():
    scores = {"a": np.array([0.9, 0.6, 0.5]), "b": np.array([0.8, 0.8, 0.5])}
    sigmas = {"a": np.array([2.0, 0.5, 0.5]), "b": np.array([0.5, 0.5, 0.5])}
    rows = compare_networks(scores, sigmas, n=30)
    a, b = rows
    assert a["network"] == "a" and b["network"] == "b"
    assert a["score"]["mean"] == pytest.approx((0.9 + 0.6 + 0.5) / 3)
    corrected_a = [0.9 / 2 ** (1 / 30), 0.6, 0.5]  # 0.8794435, 0.6, 0.5
    assert a["corrected_score"]["mean"] == pytest.approx(np.mean(corrected_a))
    half = 1.96 * np.std(corrected_a, ddof=1) / np.sqrt(3)
    assert a["corrected_score"]["ci95_low"] == pytest.approx(np.mean(corrected_a) - half)
    # Raw: image 1 a wins, image 2 b wins, image 3 tie -> both 1.5.  Corrected: the same order.
    assert (a["rank"], b["rank"]) == (pytest.approx(1.5), pytest.approx(1.5))
    assert (a["corrected_rank"], b["corrected_rank"]) == (pytest.approx(1.5), pytest.approx(1.5))
    assert a["mean_sigma"] == pytest.approx(1.0) and a["scored"] == 3


def test_correction_can_change_ranks():
    # b's raw score is higher, but its exaggerated prediction (sigma 3) loses after the correction.
    rows = compare_networks({"a": np.array([0.80]), "b": np.array([0.82])}, {"a": [0.5], "b": [3.0]}, n=10)
    assert rows[0]["rank"] == 2 and rows[1]["rank"] == 1
    assert rows[0]["corrected_rank"] == 1 and rows[1]["corrected_rank"] == 2  # 0.82 / 3**0.1 = 0.7307


def test_mean_ci_by_hand():
    ci = mean_ci(np.array([1.0, 2.0, 3.0, np.nan]))
    assert ci.mean == 2.0 and ci.count == 3
    assert ci.ci95_high - ci.mean == pytest.approx(1.96 * 1.0 / np.sqrt(3))


def test_similarities_and_same_vs_different():
    assert cosine_similarity([1.0, 0.0], [0.0, 2.0]) == pytest.approx(0.0)
    assert cosine_similarity([1.0, 1.0], [2.0, 2.0]) == pytest.approx(1.0)
    refs = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    matrix = similarity_matrix(refs, refs)
    same, different = same_and_different(matrix)
    np.testing.assert_allclose(same, [1.0, 1.0, 1.0])
    np.testing.assert_allclose(
        sorted(different), sorted([0, np.sqrt(0.5), 0, np.sqrt(0.5)] * 1 + [np.sqrt(0.5)] * 2)
    )
