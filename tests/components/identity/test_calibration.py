"""dlib's distance-based similarity and the calibration against different-identity pairs, checked by hand."""

import numpy as np
import pytest

from headsynth.components.identity.calibration import (
    DLIB_THRESHOLD,
    calibrate,
    different_pairs,
    distance_similarity,
    identity_groups,
    pair_scores,
)
from headsynth.components.identity.scores import cosine_similarity


def unit(v):
    v = np.asarray(v, np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_dlib_similarity_is_linear_in_the_distance_and_spreads_the_cosine():
    assert distance_similarity(0.0) == 1.0 and distance_similarity(2.0) == 0.0
    assert distance_similarity(DLIB_THRESHOLD) == pytest.approx(0.7)
    rng = np.random.default_rng(0)
    a, b = unit(rng.normal(size=(50, 128))), unit(rng.normal(size=(50, 128)))
    close = unit(a + 0.3 * b)
    # For unit vectors L2^2 = 2 - 2 cos: the same order as the cosine, on a wider scale near 1.
    l2 = np.linalg.norm(a - close, axis=1)
    np.testing.assert_allclose(pair_scores(a, close, "dlib"), 1 - l2 / 2)
    np.testing.assert_allclose(l2**2, 2 - 2 * cosine_similarity(a, close), atol=1e-12)
    assert np.ptp(pair_scores(a, close, "dlib")) > np.ptp(pair_scores(a, close, "cosine"))
    with pytest.raises(ValueError, match="'dlib' or 'cosine'"):
        pair_scores(a, b, "l1")


def test_different_pairs_skip_renders_of_one_identity_and_faceless_references():
    q = np.array([[0.0, 1.0], [0.0, 1.0], [2.0, 0.0], [3.0, 0.0]])  # examples 0 and 1: one identity
    groups = identity_groups(q)
    assert groups[0] == groups[1] and len(set(groups)) == 3
    embeddings = np.array([[0.0, 0.0], [0.1, 0.0], [1.0, 0.0], [np.nan, np.nan]])
    # Pairs of different identities with both faces found: (0, 2) and (1, 2).
    np.testing.assert_allclose(np.sort(different_pairs(embeddings, groups)), [1 - 1.0 / 2, 1 - 0.9 / 2])


def test_calibration_is_the_fraction_of_different_pairs_below():
    different = np.array([0.5, 0.6, 0.7, 0.8])
    np.testing.assert_allclose(calibrate([0.4, 0.65, 0.9, np.nan], different), [0.0, 0.5, 1.0, np.nan])
    assert calibrate(0.6, different) == pytest.approx(1.5 / 4)  # a tie counts half
    assert np.isnan(calibrate([0.7], [])).all()
