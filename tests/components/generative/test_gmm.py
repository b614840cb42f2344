"""Gaussian mixtures: recovery of a known mixture, AIC/BIC selection, sampling, files, errors."""

from __future__ import annotations

import numpy as np
import pytest

from headsynth.components.generative.gmm import (
    GaussianMixtureParameters,
    check_gmm_request,
    fit_gmms,
    gmm_log_density,
    load_gmm,
    sample_gmm,
    save_gmm,
    select_gmm,
)
from headsynth.core.errors import ConfigError, ParameterError

MEANS = np.array([[-3.0, 0.0, 1.0], [3.0, 2.0, -1.0]])


@pytest.fixture(scope="module")
def two_component_data():
    """1200 vectors from a known mixture: weights 0.3 / 0.7, unit covariances."""
    rng = np.random.default_rng(0)
    labels = rng.uniform(size=1200) < 0.7
    return MEANS[labels.astype(int)] + rng.normal(size=(1200, 3)), labels.mean()


def test_fit_recovers_the_means_and_weights_of_a_known_mixture(two_component_data):
    data, share = two_component_data
    fits = fit_gmms(data, components=(1, 2, 3), covariance_types=("full", "diag"), seed=0)
    assert [(f.components, f.covariance_type) for f in fits] == [
        (1, "full"),
        (2, "full"),
        (3, "full"),
        (1, "diag"),
        (2, "diag"),
        (3, "diag"),
    ]
    two = next(f for f in fits if f.components == 2 and f.covariance_type == "full")
    order = np.argsort(two.mixture.means[:, 0])
    np.testing.assert_allclose(two.mixture.means[order], MEANS, atol=0.15)
    np.testing.assert_allclose(two.mixture.weights[order], [1 - share, share], atol=0.01)
    np.testing.assert_allclose(two.mixture.full_covariances()[order], [np.eye(3)] * 2, atol=0.2)
    # BIC picks 2 components; the selection rules and the scores agree with the definitions.
    best = select_gmm(fits, "bic")
    assert best.components == 2
    n = len(data)
    assert two.bic == pytest.approx(-2 * two.log_likelihood * n + two.free_parameters * np.log(n))
    assert two.aic == pytest.approx(-2 * two.log_likelihood * n + 2 * two.free_parameters)
    assert two.free_parameters == 2 * (3 + 6) + 1
    assert select_gmm(fits, "aic").aic == min(f.aic for f in fits)
    assert select_gmm(fits, "3").components == 3
    with pytest.raises(ConfigError, match="not fitted"):
        select_gmm(fits, "7")
    with pytest.raises(ConfigError, match="Unknown GMM selection rule 'best'"):
        select_gmm(fits, "best")


def test_sampling_is_seeded_and_follows_the_mixture(tmp_path):
    mixture = GaussianMixtureParameters(
        np.array([0.25, 0.75]), MEANS, np.stack([np.eye(3) * 0.25, np.eye(3)]), "full"
    )
    q = sample_gmm(mixture, np.random.default_rng(1), 40_000)
    np.testing.assert_array_equal(q, sample_gmm(mixture, np.random.default_rng(1), 40_000))
    np.testing.assert_allclose(q.mean(axis=0), 0.25 * MEANS[0] + 0.75 * MEANS[1], atol=0.05)
    assert np.mean(q[:, 0] < 0) == pytest.approx(0.25, abs=0.01)
    assert not np.all(np.diff(q[:, 0] < 0) == 0)  # components are shuffled, not in blocks
    save_gmm(tmp_path / "m.npz", mixture)
    loaded = load_gmm(tmp_path / "m.npz")
    assert loaded.covariance_type == "full"
    np.testing.assert_array_equal(sample_gmm(loaded, np.random.default_rng(1), 40_000), q)
    density = gmm_log_density(mixture, MEANS)
    assert density.shape == (2,) and np.all(np.isfinite(density))
    with pytest.raises(ParameterError, match="does not exist"):
        load_gmm(tmp_path / "missing.npz")


@pytest.mark.parametrize("covariance_type", ["diag", "tied", "spherical"])
def test_every_covariance_type_samples_with_its_fitted_covariance(covariance_type, two_component_data):
    data, _ = two_component_data
    (fit,) = fit_gmms(data, components=(2,), covariance_types=(covariance_type,), seed=0)
    q = sample_gmm(fit.mixture, np.random.default_rng(0), 20_000)
    np.testing.assert_allclose(q.mean(axis=0), data.mean(axis=0), atol=0.1)
    np.testing.assert_allclose(q.std(axis=0), data.std(axis=0), rtol=0.05)


def test_too_few_rows_and_bad_requests_are_named():
    with pytest.raises(
        ParameterError, match="has 10 vectors, too few for a Gaussian mixture with 25 components"
    ):
        check_gmm_request(10, (1, 25), ("full",), "file x.npz")
    with pytest.raises(ConfigError, match="covariance type"):
        check_gmm_request(100, (1,), ("banded",))
    with pytest.raises(ConfigError, match="positive integers"):
        check_gmm_request(100, (0, 2), ("full",))
    with pytest.raises(ParameterError, match="finite"):
        fit_gmms(np.array([[0.0, np.nan], [1.0, 2.0]]), components=(1,))
