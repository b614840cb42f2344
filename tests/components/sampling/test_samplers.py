"""Samplers: moments against their definitions, seeding, and the fitted samplers.

Moments are checked within 5 standard errors, with the standard error taken
from per-row means (rows are independent; entries within a row need not be,
as in meta_normal and composite).
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from headsynth.components.sampling import samplers
from headsynth.components.sampling.samplers import SAMPLERS, sample_parameters
from headsynth.core.errors import ConfigError, ParameterError
from headsynth.data_schemas.parameter_files import save_parameter_file

COUNT, WIDTH = 200_000, 10


def assert_moment(values: np.ndarray, expected: float, power: int) -> None:
    """E[q^power] over all entries is `expected` within 5 standard errors."""
    per_row = np.mean(values.astype(np.float64) ** power, axis=1)
    estimate = per_row.mean()
    standard_error = per_row.std(ddof=1) / np.sqrt(len(per_row))
    assert abs(estimate - expected) < 5 * standard_error + 1e-12, (power, estimate, expected, standard_error)


def beta_second_moment(a: float, b: float) -> float:
    return a * b / ((a + b) ** 2 * (a + b + 1)) + (a / (a + b)) ** 2


def uniform_moment(low: float, high: float, power: int) -> float:
    return (high ** (power + 1) - low ** (power + 1)) / ((power + 1) * (high - low))


# name, options, E[q^2], E[q^4] (None: not checked)
MOMENTS = {
    "paper_uniform": ({}, 1 / 3, 1 / 5),
    "naive_uniform default x=4": ({}, 16 / 3, 4**4 / 5),
    "naive_uniform x=3.5": ({"limit": 3.5}, 3.5**2 / 3, 3.5**4 / 5),
    "naive_normal default s=1.5": ({}, 1.5**2, 3 * 1.5**4),
    # 8 of 10 entries N(0, 1), 2 of 10 U(-6, 6): E[q^2] = 0.8 * 1 + 0.2 * 36 / 3.
    "composite": ({}, 0.8 * 1 + 0.2 * 36 / 3, 0.8 * 3 + 0.2 * 6**4 / 5),
    "composite 50/50 x=2": ({"normal_fraction": 0.5, "uniform_limit": 2.0}, 0.5 + 0.5 * 4 / 3, None),
    # N(0, 0.7) * Beta(3, 15) * U(-6, 6): independent factors, so E[q^2] is the product.
    "normal_beta_uniform": ({}, 0.7**2 * beta_second_moment(3, 15) * 36 / 3, None),
    "normal_beta_uniform other": (
        {"beta_a": 0.5, "beta_b": 0.5, "uniform_limit": 3.0, "normal_std": 1.0},
        1.0 * beta_second_moment(0.5, 0.5) * 9 / 3,
        None,
    ),
    # sigma ~ U(0.5, 2) per row, q ~ N(0, sigma): E[q^2] = E[sigma^2], E[q^4] = 3 E[sigma^4].
    "meta_normal": ({}, uniform_moment(0.5, 2.0, 2), 3 * uniform_moment(0.5, 2.0, 4)),
    "meta_normal 1..3": (
        {"sigma_low": 1.0, "sigma_high": 3.0},
        uniform_moment(1.0, 3.0, 2),
        3 * uniform_moment(1.0, 3.0, 4),
    ),
}


@pytest.mark.parametrize("case", sorted(MOMENTS))
def test_moments_match_the_definition(case):
    name = case.split(" ")[0]
    options, second, fourth = MOMENTS[case]
    q = sample_parameters(name, COUNT, WIDTH, seed=7, options=options)
    assert q.shape == (COUNT, WIDTH) and q.dtype == np.float32
    assert_moment(q, 0.0, 1)  # every sampler is symmetric about 0
    assert_moment(q, second, 2)
    if fourth is not None:
        assert_moment(q, fourth, 4)


def test_defaults_are_the_thesis_table_5_1_values():
    def defaults(function):
        return {
            k: p.default
            for k, p in inspect.signature(function).parameters.items()
            if p.default is not p.empty
        }

    assert 3.5 <= defaults(samplers.naive_uniform)["limit"] <= 5.0
    assert 1.0 <= defaults(samplers.naive_normal)["std"] <= 2.0
    assert defaults(samplers.composite) == {"normal_fraction": 0.8, "normal_std": 1.0, "uniform_limit": 6.0}
    assert defaults(samplers.normal_beta_uniform) == {
        "beta_a": 3.0,
        "beta_b": 15.0,
        "uniform_limit": 6.0,
        "normal_std": 0.7,
    }
    assert defaults(samplers.meta_normal) == {"sigma_low": 0.5, "sigma_high": 2.0}


def test_bounds_and_structure():
    uniform = sample_parameters("naive_uniform", 10_000, WIDTH, 1, {"limit": 3.5})
    assert -3.5 <= uniform.min() < -3.4 and 3.4 < uniform.max() <= 3.5
    # Composite: exactly 2 uniform entries per row of 10, shuffled so every column gets them.
    mixed = sample_parameters("composite", COUNT, WIDTH, 2)
    assert np.abs(mixed).max() <= 6.0
    # |q| > 5 almost never comes from N(0, 1) (p = 6e-7) but 1/6 of the time from U(-6, 6).
    assert_moment((np.abs(mixed) > 5).astype(np.float64), 0.2 / 6, 1)
    column_share = (np.abs(mixed) > 5).mean(axis=0)
    np.testing.assert_allclose(column_share, 0.2 / 6, atol=0.003)
    # Meta normal: one sigma per row, so |q| is correlated within a row (independent draws are not).
    meta = sample_parameters("meta_normal", COUNT, 2, 3)
    assert np.corrcoef(np.abs(meta[:, 0]), np.abs(meta[:, 1]))[0, 1] > 0.1
    plain = sample_parameters("naive_normal", COUNT, 2, 3)
    assert abs(np.corrcoef(np.abs(plain[:, 0]), np.abs(plain[:, 1]))[0, 1]) < 0.02


# gmm/cgan need a fitted model: tests/components/generative/test_fit_generative_model.py seeds them.
@pytest.mark.parametrize(
    "name", [n for n in SAMPLERS if not n.startswith("fitted") and n not in samplers.GENERATIVE_SAMPLERS]
)
def test_same_seed_same_vectors_different_seed_different(name):
    first = sample_parameters(name, 50, 6, seed=11)
    np.testing.assert_array_equal(first, sample_parameters(name, 50, 6, seed=11))
    assert not np.array_equal(first, sample_parameters(name, 50, 6, seed=12))
    np.testing.assert_array_equal(first, sample_parameters(name, 50, 6, seed=[11]))


@pytest.fixture(scope="module")
def fitted_file(tmp_path_factory):
    """A parameter file whose 5 columns have distinct means and standard deviations."""
    rng = np.random.default_rng(0)
    vectors = rng.normal([0.5, -1.0, 0.0, 2.0, 0.1], [0.2, 1.0, 3.0, 0.5, 1.5], size=(400, 5))
    path = tmp_path_factory.mktemp("fitted") / "pfit.npz"
    save_parameter_file(path, vectors)
    stored = vectors.astype(np.float32).astype(np.float64)
    return str(path), stored.mean(axis=0), stored.std(axis=0, ddof=1)


@pytest.mark.parametrize("name", ["fitted_uniform", "fitted_normal"])
def test_fitted_samplers_reproduce_the_file_moments(fitted_file, name):
    path, mean, std = fitted_file
    options = {"parameter_file": path, **({"stds": float(np.sqrt(3))} if name == "fitted_uniform" else {})}
    q = sample_parameters(name, COUNT, 5, seed=5, options=options).astype(np.float64)
    # Standard errors of the mean and of the variance, per column.
    np.testing.assert_array_less(np.abs(q.mean(axis=0) - mean), 5 * std / np.sqrt(COUNT))
    kurtosis = 1.8 if name == "fitted_uniform" else 3.0
    variance_error = std**2 * np.sqrt((kurtosis - 1) / COUNT)
    np.testing.assert_array_less(np.abs(q.var(axis=0) - std**2), 5 * variance_error)
    if name == "fitted_uniform":
        half = np.sqrt(3) * std  # `stds` sqrt(3): the file's own variance (the default is Table 5.1's 3)
        assert np.all(q.min(axis=0) >= mean - half - 1e-5) and np.all(q.max(axis=0) <= mean + half + 1e-5)


def test_fitted_sampler_errors(fitted_file, tmp_path):
    path, _, _ = fitted_file
    with pytest.raises(ParameterError, match="width 5; expected width 6"):
        sample_parameters("fitted_normal", 10, 6, 0, {"parameter_file": path})
    save_parameter_file(tmp_path / "one.npz", np.zeros((1, 5)))
    with pytest.raises(ParameterError, match="at least 2 are needed"):
        sample_parameters("fitted_uniform", 10, 5, 0, {"parameter_file": str(tmp_path / "one.npz")})


def test_bad_names_and_options():
    with pytest.raises(ConfigError, match="Unknown sampler 'gaussian'.*naive_normal"):
        sample_parameters("gaussian", 10, 3, 0)
    with pytest.raises(ConfigError, match="Bad options"):
        sample_parameters("naive_uniform", 10, 3, 0, {"std": 1.0})
    with pytest.raises(ConfigError, match="must be positive"):
        sample_parameters("naive_normal", 0, 3, 0)
    # Arguments given as options are checked as a spec's are (tests/components/sampling/test_sampler_specs.py).
    with pytest.raises(ConfigError, match="with sigma_low <= sigma_high"):
        sample_parameters("meta_normal", 10, 3, 0, {"sigma_low": 2.0, "sigma_high": 1.0})
    with pytest.raises(
        ConfigError, match="normal_beta_uniform takes up to four arguments normal_std > 0, beta_a > 0"
    ):
        sample_parameters("normal_beta_uniform", 10, 3, 0, {"beta_a": 0.0})


def test_identities_repeat_in_a_row_for_the_thesis_data():
    from headsynth.components.sampling.samplers import repeat_identities
    from headsynth.config import get_preset
    from headsynth.wiring import sampling_parameters

    q = sample_parameters("naive_normal", 4, 3, seed=0)
    repeated = repeat_identities(q, 3, 10)
    assert repeated.shape == (10, 3)
    np.testing.assert_array_equal(repeated[:3], np.repeat(q[:1], 3, axis=0))
    np.testing.assert_array_equal(repeated[9], q[3])  # the last identity cut after one render
    assert len(np.unique(repeated, axis=0)) == 4
    with pytest.raises(ConfigError, match="cannot fill 20 examples"):
        repeat_identities(q, 3, 20)
    # The thesis preset asks for 10,000 identities x 10 renders; other presets pass nothing new.
    thesis = sampling_parameters(get_preset("thesis"))
    assert thesis["renders_per_identity"] == 10 and thesis["num_train"] == 100_000
    assert "renders_per_identity" not in sampling_parameters(get_preset("quickstart"))
