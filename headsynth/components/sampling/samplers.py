"""Parameter samplers: vectorised, seeded draws of unscaled parameter vectors q.

The coefficients applied to the model are p = scale * sigma * q
(`sampling.scale`; the paper uses 1.6 with q ~ U[-1, 1]^m, the thesis's
samplers use scale 1 so q is in units of sigma). Every sampler takes a
`numpy.random.Generator`, a count and a width, and returns `[count, m]` float32.

Samplers of the thesis's Table 5.1 are registered beside the paper's; their
parameters are keyword arguments with the thesis's values as defaults. The
generative samplers "gmm" and "cgan" draw from models FitGenerativeModel
fitted to realistic vectors (option `model_dir`; see `components/generative`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from headsynth.components.generative.store import FittedGenerativeModel
from headsynth.core.errors import ConfigError, ParameterError
from headsynth.data_schemas.parameter_files import load_parameter_file

Sampler = Callable[..., np.ndarray]


def paper_uniform(rng: np.random.Generator, count: int, width: int) -> np.ndarray:
    """The paper's q ~ U[-1, 1]^m (use with scale 1.6)."""
    return rng.uniform(-1.0, 1.0, size=(count, width))


def naive_uniform(rng: np.random.Generator, count: int, width: int, limit: float = 4.0) -> np.ndarray:
    """Thesis Table 5.1 "naive uniform": q ~ U(-x, x)."""
    if limit <= 0:
        raise ConfigError(f"naive_uniform limit must be positive. Received: {limit}.")
    return rng.uniform(-limit, limit, size=(count, width))


def naive_normal(rng: np.random.Generator, count: int, width: int, std: float = 1.5) -> np.ndarray:
    """Thesis Table 5.1 "naive normal": q ~ N(0, s)."""
    if std <= 0:
        raise ConfigError(f"naive_normal std must be positive. Received: {std}.")
    return rng.normal(0.0, std, size=(count, width))


def composite(
    rng: np.random.Generator,
    count: int,
    width: int,
    normal_fraction: float = 0.8,
    uniform_limit: float = 6.0,
) -> np.ndarray:
    """Thesis "composite": 80% N(0, 1) and 20% U(-6, 6) entries, columns shuffled per row.

    Each row holds round(0.8 m) normal entries and the rest uniform ones, in a
    random order per row, so every parameter sees both kinds.
    """
    if not 0.0 <= normal_fraction <= 1.0:
        raise ConfigError(f"composite normal_fraction must be in [0, 1]. Received: {normal_fraction}.")
    num_normal = int(round(normal_fraction * width))
    values = np.concatenate(
        [
            rng.normal(0.0, 1.0, size=(count, num_normal)),
            rng.uniform(-uniform_limit, uniform_limit, size=(count, width - num_normal)),
        ],
        axis=1,
    )
    return rng.permuted(values, axis=1)


def normal_beta_uniform(
    rng: np.random.Generator,
    count: int,
    width: int,
    beta_a: float = 3.0,
    beta_b: float = 15.0,
    uniform_limit: float = 6.0,
    normal_std: float = 0.7,
) -> np.ndarray:
    """Thesis "normal x beta x uniform": the product N(0, s) * Beta(a, b) * U(-x, x).

    Defaults are Table 5.1's: N(0, 0.7) * Beta(3, 15) * U(-6, 6).
    """
    if beta_a <= 0 or beta_b <= 0 or uniform_limit <= 0 or normal_std <= 0:
        raise ConfigError(
            "normal_beta_uniform needs positive beta_a, beta_b, uniform_limit and normal_std. "
            f"Received: {beta_a}, {beta_b}, {uniform_limit}, {normal_std}."
        )
    return (
        rng.normal(0.0, normal_std, size=(count, width))
        * rng.beta(beta_a, beta_b, size=(count, width))
        * rng.uniform(-uniform_limit, uniform_limit, size=(count, width))
    )


def meta_normal(
    rng: np.random.Generator, count: int, width: int, sigma_low: float = 0.5, sigma_high: float = 2.0
) -> np.ndarray:
    """Thesis "meta": per instance a sigma ~ U(low, high), then q ~ N(0, sigma).

    Defaults are Table 5.1's sigma_n in [0.5, 2].
    """
    if not 0 < sigma_low <= sigma_high:
        raise ConfigError(
            f"meta_normal needs 0 < sigma_low <= sigma_high. Received: {sigma_low}, {sigma_high}."
        )
    sigmas = rng.uniform(sigma_low, sigma_high, size=(count, 1))
    return rng.normal(0.0, 1.0, size=(count, width)) * sigmas


def _fitted_moments(parameter_file: str, width: int) -> tuple[np.ndarray, np.ndarray]:
    vectors = load_parameter_file(parameter_file, width=width, min_rows=2)
    return vectors.mean(axis=0), vectors.std(axis=0, ddof=1)


def fitted_uniform(rng: np.random.Generator, count: int, width: int, parameter_file: str = "") -> np.ndarray:
    """Thesis "fitted uniform": U(mean - sqrt(3) s, mean + sqrt(3) s) per parameter,
    with mean and s read from a parameter file (same moments as the file)."""
    mean, std = _fitted_moments(parameter_file, width)
    half = np.sqrt(3.0) * std
    return rng.uniform(mean - half, mean + half, size=(count, width))


def fitted_normal(rng: np.random.Generator, count: int, width: int, parameter_file: str = "") -> np.ndarray:
    """Thesis "fitted normal": N(mean, s) per parameter from a parameter file."""
    mean, std = _fitted_moments(parameter_file, width)
    return rng.normal(mean, std, size=(count, width))


def _fitted_model(model_dir: str, width: int, target_scale: float, sampler: str) -> FittedGenerativeModel:
    if not model_dir:
        raise ConfigError(
            f"Sampler {sampler!r} needs a fitted generative model (option model_dir).",
            "Run FitGenerativeModel first; the pipeline does when sampling.sampler is gmm or cgan.",
        )
    if target_scale <= 0:
        raise ConfigError(f"Sampler {sampler!r}: target_scale must be positive. Received: {target_scale}.")
    model = FittedGenerativeModel.load(model_dir)
    model.check_width(width)
    return model


def gmm(
    rng: np.random.Generator,
    count: int,
    width: int,
    model_dir: str = "",
    components: int = 0,
    covariance_type: str = "",
    target_scale: float = 1.0,
) -> np.ndarray:
    """Thesis "GMM": draws from a Gaussian mixture fitted by FitGenerativeModel (folder `model_dir`).

    `components` picks one of the fitted mixtures (0: the one selected by the
    fit's rule). The mixture is fitted in units of sigma; q is returned for
    rendering at `target_scale` (q = q_sigma / target_scale).
    """
    model = _fitted_model(model_dir, width, target_scale, "gmm")
    return model.sample_gmm(rng, count, int(components), covariance_type, target_scale)


def cgan(
    rng: np.random.Generator,
    count: int,
    width: int,
    model_dir: str = "",
    variant: str = "",
    ages: tuple[float, ...] | list[float] = (),
    sexes: tuple[float, ...] | list[float] = (),
    target_scale: float = 1.0,
) -> np.ndarray:
    """Thesis "CVGAN": draws from a conditional GAN trained by FitGenerativeModel at requested ages and sexes.

    Samples cycle through every (age, sex) combination of `ages` x `sexes`
    (sex 0 female, 1 male); a label left empty is drawn from the training
    labels. `variant` picks the GAN (cvgan1/cvgan2; default: the first
    trained). Units as for `gmm`.
    """
    model = _fitted_model(model_dir, width, target_scale, "cgan")
    q, _, _ = model.sample_cgan(rng, count, variant, list(ages), list(sexes), target_scale)
    return q


# Samplers that draw from a model fitted by FitGenerativeModel (they need option model_dir).
GENERATIVE_SAMPLERS = ("gmm", "cgan")

SAMPLERS: dict[str, Sampler] = {
    "paper_uniform": paper_uniform,
    "naive_uniform": naive_uniform,
    "naive_normal": naive_normal,
    "composite": composite,
    "normal_beta_uniform": normal_beta_uniform,
    "meta_normal": meta_normal,
    "fitted_uniform": fitted_uniform,
    "fitted_normal": fitted_normal,
    "gmm": gmm,
    "cgan": cgan,
}


def get_sampler(name: str, key: str = "sampler") -> Sampler:
    """Returns a registered sampler.

    Args:
        name: the sampler's name.
        key: the configuration key the name came from, for the error message.

    Raises:
        ConfigError: for an unknown name, listing the known ones.
    """
    if name not in SAMPLERS:
        raise ConfigError(f"Unknown {key} {name!r}.", f"Choose one of: {', '.join(sorted(SAMPLERS))}.")
    return SAMPLERS[name]


def sample_parameters(
    name: str, count: int, width: int, seed: int | list[int], options: dict[str, Any] | None = None
) -> np.ndarray:
    """Draws `[count, width]` unscaled parameter vectors with a registered sampler.

    The same (name, count, width, seed, options) always gives the same array.

    Raises:
        ConfigError: for an unknown sampler, bad options or non-positive sizes.
        ParameterError: if the sampler produced non-finite values.
    """
    sampler = get_sampler(name)
    if count <= 0 or width <= 0:
        raise ConfigError(f"Sample count and width must be positive. Received: count={count}, width={width}.")
    rng = np.random.default_rng(seed)
    try:
        values = sampler(rng, count, width, **(options or {}))
    except TypeError as error:
        raise ConfigError(f"Bad options {options} for sampler {name!r}: {error}.") from None
    values = np.asarray(values, dtype=np.float32)
    if not np.all(np.isfinite(values)):
        raise ParameterError(f"Sampler {name!r} produced non-finite values with options {options}.")
    return values
