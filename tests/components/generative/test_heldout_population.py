"""The held-out synthetic population (the default generative.source) is not N(0, I), unlike the model's own."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from headsynth.components.diversity.measures import ks_statistics
from headsynth.components.generative.heldout import TraitMapping, stored_traits_and_q
from headsynth.components.generative.sources import population_vectors, realistic_vectors
from headsynth.config import HeadsynthConfig
from headsynth.core.errors import ConfigError, ParameterError


@pytest.fixture(scope="module")
def full_model():
    """The built-in model with all its 50 + 50 components."""
    from headsynth.morphable.loading import load_model

    return load_model("builtin", 50, 50)


@pytest.fixture(scope="module")
def heldout(full_model):
    return realistic_vectors("heldout_population", full_model, seed=0)


def sex_direction_separation(q: np.ndarray, sex: np.ndarray) -> tuple[float, float]:
    """Along the male-minus-female mean direction: (mean gap / within-sex sd, bimodality coefficient).

    The direction is found on the even rows and measured on the odd ones: fitted and measured on the
    same 400 rows in 100 dimensions it would separate even random labels.
    """
    fit, held = slice(0, None, 2), slice(1, None, 2)
    direction = q[fit][sex[fit] == 1].mean(axis=0) - q[fit][sex[fit] == 0].mean(axis=0)
    projection, labels = q[held] @ (direction / np.linalg.norm(direction)), sex[held]
    within = np.sqrt(0.5 * (projection[labels == 1].var() + projection[labels == 0].var()))
    gap = projection[labels == 1].mean() - projection[labels == 0].mean()
    z = (projection - projection.mean()) / projection.std()
    skew, kurtosis = np.mean(z**3), np.mean(z**4)
    return float(gap / within), float((skew**2 + 1) / kurtosis)  # > 5/9 suggests two modes


def test_default_source_is_the_heldout_population_with_labels(heldout, full_model):
    assert HeadsynthConfig().generative.source == "heldout_population"
    assert heldout.q.shape == (2000, 100) and heldout.q.dtype == np.float32
    assert np.isfinite(heldout.q).all()
    assert set(heldout.labels) == {"age", "sex"}
    ages, sexes = heldout.labels["age"], heldout.labels["sex"]
    assert 35.0 <= ages.min() and ages.max() <= 80.0 and ages.mean() > 60.0  # older than the model's 47
    assert set(np.unique(sexes)) == {0.0, 1.0} and 0.45 < sexes.mean() < 0.55
    # Deterministic from the seed; another seed gives other identities.
    again = realistic_vectors("heldout_population", full_model, seed=0)
    np.testing.assert_array_equal(again.q, heldout.q)
    assert not np.allclose(realistic_vectors("heldout_population", full_model, seed=1).q[:5], heldout.q[:5])
    start = time.perf_counter()
    realistic_vectors("heldout_population", full_model, seed=2, size=2000)
    assert time.perf_counter() - start < 2.0  # measured ~0.1 s; generous on shared CI cores


def test_heldout_population_is_not_standard_normal_unlike_the_models_own(heldout, full_model):
    own = population_vectors(full_model)
    # The model's own population is zero-mean and unit-variance by construction ...
    assert np.abs(own.q.mean(axis=0)).max() < 1e-3
    np.testing.assert_allclose(own.q.std(axis=0), 1.0, atol=0.01)
    # ... the held-out one is not: the standard error of a mean of 2000 N(0, 1) draws is 0.022.
    assert np.abs(heldout.q.mean(axis=0)).max() > 0.3
    assert np.abs(heldout.q.std(axis=0) - 1.0).max() > 0.15
    # Correlated within shape (the model's own shape coefficients are uncorrelated; among 1225 pairs of
    # 2000 independent draws the largest |r| is ~0.08). Measured 0.20.
    shape_r = np.corrcoef(heldout.q[:, :50], rowvar=False) - np.eye(50)
    assert np.abs(shape_r).max() > 0.15
    # Two modes along the sex direction, far apart; the model's own sexes overlap more.
    gap, bimodality = sex_direction_separation(heldout.q.astype(np.float64), heldout.labels["sex"])
    own_gap, own_bimodality = sex_direction_separation(own.q.astype(np.float64), own.labels["sex"])
    assert gap > 4.0 and bimodality > 5 / 9  # measured 4.97 and 0.66 (seed 0)
    assert gap > own_gap + 1.0 and own_bimodality < 5 / 9  # measured 2.94 and 0.51


def test_ks_sum_against_standard_normal_is_far_larger_than_the_models_own(heldout, full_model):
    """The project's diversity measure: per-parameter KS statistics summed, same sample sizes."""
    reference = np.random.default_rng(11).standard_normal((2000, 100))
    own = population_vectors(full_model).q
    n = len(own)  # 400: compare equal sample sizes (the KS noise floor depends on them)
    ks_own = ks_statistics(own, reference).total
    ks_heldout = ks_statistics(heldout.q[:n], reference).total
    ks_normal = ks_statistics(np.random.default_rng(12).standard_normal((n, 100)), reference).total
    assert abs(ks_own - ks_normal) < 0.25 * ks_normal  # the model's own: at N(0, I)'s noise floor
    assert ks_heldout > 1.5 * ks_own


def test_the_mapping_is_learnt_from_the_stored_identities(full_model):
    traits, q = stored_traits_and_q(full_model)
    mapping = TraitMapping(traits, q)
    explained = 1.0 - (q - mapping.predict(traits)).var(axis=0) / q.var(axis=0)
    assert explained[50] > 0.8  # the first texture component is mostly skin tone
    assert 0.02 < explained.mean() < 0.5  # identities differ far beyond their traits
    # The residual covariance keeps the rest of the variance: regression + residual ~ unit variance.
    total = mapping.predict(traits).var(axis=0) + np.diag(mapping.residual_covariance)
    np.testing.assert_allclose(total, 1.0, atol=0.1)


def test_truncated_model_and_bad_inputs(small_model):
    realistic = realistic_vectors("heldout_population", small_model, seed=3, size=50)
    assert realistic.q.shape == (50, 8)
    for size in (1, 0, -5, 2.5):
        with pytest.raises(ConfigError, match="at least 2 identities"):
            realistic_vectors("heldout_population", small_model, size=size)
    bare = dataclasses.replace(small_model, population={})
    with pytest.raises(ParameterError, match="stores no labelled population"):
        realistic_vectors("heldout_population", bare)


def test_heldout_size_below_two_is_refused_by_the_config():
    from headsynth.config import apply_overrides, get_preset, validate

    with pytest.raises(ConfigError, match="generative.heldout_size must be at least 2 identities"):
        apply_overrides(get_preset("ci"), ["generative.heldout_size=1"])
    assert apply_overrides(get_preset("ci"), ["generative.heldout_size=40"]).generative.heldout_size == 40
    for preset in ("ci", "quickstart"):
        config = get_preset(preset)
        validate(config)
        assert config.generative.source == "heldout_population"


def test_fitted_and_generative_samplers_draw_around_the_heldout_population(tmp_path, small_model):
    """FitGenerativeModel's body on the default source; fitted_normal and gmm:1 keep its non-zero mean."""
    from headsynth.components.generative.component import fit_from_parameters
    from headsynth.components.sampling.component import generative_options
    from headsynth.components.sampling.samplers import sample_parameters

    model_path = str(tmp_path / "model.npz")
    small_model.save_npz(model_path)
    out = str(tmp_path / "generative")
    index = fit_from_parameters(model_path, out, heldout_size=600, gmm_components="1", cgan_variants="")
    assert index["num_vectors"] == 600 and "held-out synthetic identities" in index["source"]
    realistic = realistic_vectors("heldout_population", small_model, size=600).q
    assert np.abs(realistic.mean(axis=0)).max() > 0.3
    for spec in ("fitted_normal", "fitted_data", "gmm"):
        options = generative_options(spec, out, scale=1.0)
        q = sample_parameters(spec, 3000, 8, 0, options)
        np.testing.assert_allclose(q.mean(axis=0), realistic.mean(axis=0), atol=0.1, err_msg=spec)
