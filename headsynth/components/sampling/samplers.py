"""Parameter samplers: vectorised, seeded draws of unscaled parameter vectors q.

The coefficients applied to the model are p = scale * sigma * q
(`sampling.scale`; the paper uses 1.6 with q ~ U[-1, 1]^m, the thesis's
samplers use scale 1 so q is in units of sigma). Every sampler takes a
`numpy.random.Generator`, a count and a width, and returns `[count, m]` float32.

Samplers of the thesis's Tables 5.1 and 6.6 are registered beside the paper's;
their parameters are keyword arguments with Table 5.1's values as defaults,
and a spec string `name[:a,b,...]` sets them (`specs.py`; e.g.
"naive_normal:1.8", "composite:0.8,2,2.6"). Every function here trusts its
arguments: `sample_parameters` checks them against the spec's form first. The
fitted samplers draw around realistic vectors read from a parameter file
(option `parameter_file`); the generative samplers "gmm" and "cgan" draw from
models FitGenerativeModel fitted to them (option `model_dir`; see
`components/generative`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from headsynth.components.generative.store import FittedGenerativeModel
from headsynth.components.sampling.specs import (
    FITTED_SAMPLERS,
    FORMS,
    GENERATIVE_SAMPLERS,
    SamplerSpec,
    check_values,
    parse_sampler_spec,
)
from headsynth.core.errors import ConfigError, ParameterError
from headsynth.data_schemas.parameter_files import load_parameter_file

Sampler = Callable[..., np.ndarray]


def paper_uniform(rng: np.random.Generator, count: int, width: int) -> np.ndarray:
    """The paper's q ~ U[-1, 1]^m (use with scale 1.6)."""
    return rng.uniform(-1.0, 1.0, size=(count, width))


def naive_uniform(rng: np.random.Generator, count: int, width: int, limit: float = 4.0) -> np.ndarray:
    """Thesis Table 5.1 "naive uniform": q ~ U(-x, x)."""
    return rng.uniform(-limit, limit, size=(count, width))


def naive_normal(rng: np.random.Generator, count: int, width: int, std: float = 1.5) -> np.ndarray:
    """Thesis Table 5.1 "naive normal": q ~ N(0, s)."""
    return rng.normal(0.0, std, size=(count, width))


def composite(
    rng: np.random.Generator,
    count: int,
    width: int,
    normal_fraction: float = 0.8,
    normal_std: float = 1.0,
    uniform_limit: float = 6.0,
) -> np.ndarray:
    """Thesis "composite": 80% N(0, 1) and 20% U(-6, 6) entries, columns shuffled per row.

    Each row holds round(0.8 m) normal entries and the rest uniform ones, in a
    random order per row, so every parameter sees both kinds. Table 6.6's
    "normal 8/10 sigma 2 uniform 2/10 2.6" is `composite:0.8,2,2.6`.
    """
    num_normal = int(round(normal_fraction * width))
    values = np.concatenate(
        [
            rng.normal(0.0, normal_std, size=(count, num_normal)),
            rng.uniform(-uniform_limit, uniform_limit, size=(count, width - num_normal)),
        ],
        axis=1,
    )
    return rng.permuted(values, axis=1)


def normal_beta_uniform(
    rng: np.random.Generator,
    count: int,
    width: int,
    normal_std: float = 0.7,
    beta_a: float = 3.0,
    beta_b: float = 15.0,
    uniform_limit: float = 6.0,
) -> np.ndarray:
    """Thesis "normal + uniform (beta)" read as Table 5.1 writes it: the product N(0, s) * Beta(a, b) * U(-x, x).

    Defaults are Table 5.1's: N(0, 0.7) * Beta(3, 15) * U(-6, 6). (`beta_composite`
    is the other reading, a per-vector mixture whose uniform share is Beta(a, b).)
    """
    return (
        rng.normal(0.0, normal_std, size=(count, width))
        * rng.beta(beta_a, beta_b, size=(count, width))
        * rng.uniform(-uniform_limit, uniform_limit, size=(count, width))
    )


def _mixed_rows(
    rng: np.random.Generator, shares: np.ndarray, width: int, normal_std: float, uniform_limit: float
) -> np.ndarray:
    """Row i: round(shares[i] * width) entries from U(-x, x) at random columns, the others from N(0, s)."""
    count = len(shares)
    num_uniform = np.rint(shares * width).astype(np.int64)
    normal = rng.normal(0.0, normal_std, size=(count, width))
    uniform = rng.uniform(-uniform_limit, uniform_limit, size=(count, width))
    ranks = rng.random((count, width)).argsort(axis=1).argsort(axis=1)  # a random column order per row
    return np.where(ranks < num_uniform[:, None], uniform, normal)


def meta_composite(
    rng: np.random.Generator,
    count: int,
    width: int,
    normal_std: float = 0.7,
    share_low: float = 0.0,
    share_high: float = 0.25,
    uniform_limit: float = 6.0,
) -> np.ndarray:
    """Thesis Table 6.6 "meta normal sigma .7 0-25 uniform 6": per vector a share s ~ U(0, 0.25) of its
    entries from U(-6, 6), the others from N(0, 0.7)."""
    shares = rng.uniform(share_low, share_high, size=count)
    return _mixed_rows(rng, shares, width, normal_std, uniform_limit)


def beta_composite(
    rng: np.random.Generator,
    count: int,
    width: int,
    normal_std: float = 0.7,
    beta_a: float = 3.0,
    beta_b: float = 15.0,
    uniform_limit: float = 6.0,
) -> np.ndarray:
    """Thesis "normal + uniform (beta)" read as a mixture: per vector a share s ~ Beta(3, 15) of its
    entries from U(-6, 6), the others from N(0, 0.7) (see `normal_beta_uniform`)."""
    shares = rng.beta(beta_a, beta_b, size=count)
    return _mixed_rows(rng, shares, width, normal_std, uniform_limit)


def meta_normal(
    rng: np.random.Generator, count: int, width: int, sigma_low: float = 0.5, sigma_high: float = 2.0
) -> np.ndarray:
    """Thesis "meta": per instance a sigma ~ U(low, high), then q ~ N(0, sigma).

    Defaults are Table 5.1's sigma_n in [0.5, 2].
    """
    sigmas = rng.uniform(sigma_low, sigma_high, size=(count, 1))
    return rng.normal(0.0, 1.0, size=(count, width)) * sigmas


def _fitted_vectors(parameter_file: str, width: int, target_scale: float, sampler: str) -> np.ndarray:
    if not parameter_file:
        raise ConfigError(
            f"Sampler {sampler!r} draws around realistic vectors and was given none (option parameter_file).",
            "The pipeline passes FitGenerativeModel's vectors, the samplers study its realistic ones.",
        )
    return load_parameter_file(parameter_file, width=width, min_rows=2).astype(np.float64) / target_scale


def _fitted_moments(parameter_file: str, width: int, target_scale: float, sampler: str):
    vectors = _fitted_vectors(parameter_file, width, target_scale, sampler)
    return vectors.mean(axis=0), vectors.std(axis=0, ddof=1)


def fitted_uniform(
    rng: np.random.Generator,
    count: int,
    width: int,
    stds: float = 3.0,
    parameter_file: str = "",
    target_scale: float = 1.0,
) -> np.ndarray:
    """Thesis "fitted uniform" as Table 5.1 writes it: U(mean - 3 s, mean + 3 s) per parameter, with mean
    and s read from a parameter file (q = file / target_scale). Table 6.6's "uniform x 2" is `stds` 2;
    `stds` sqrt(3) keeps the file's variance."""
    mean, std = _fitted_moments(parameter_file, width, target_scale, "fitted_uniform")
    return rng.uniform(mean - stds * std, mean + stds * std, size=(count, width))


def fitted_normal(
    rng: np.random.Generator, count: int, width: int, parameter_file: str = "", target_scale: float = 1.0
) -> np.ndarray:
    """Thesis "fitted normal": N(mean, s) per parameter from a parameter file."""
    mean, std = _fitted_moments(parameter_file, width, target_scale, "fitted_normal")
    return rng.normal(mean, std, size=(count, width))


def fitted_data(
    rng: np.random.Generator, count: int, width: int, parameter_file: str = "", target_scale: float = 1.0
) -> np.ndarray:
    """Thesis Table 6.6 "p-fit original data": the realistic vectors themselves, in a random order (each
    one once per pass through the file)."""
    vectors = _fitted_vectors(parameter_file, width, target_scale, "fitted_data")
    passes = -(-count // len(vectors))
    order = np.concatenate([rng.permutation(len(vectors)) for _ in range(passes)])[:count]
    return vectors[order]


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


SAMPLERS: dict[str, Sampler] = {
    "paper_uniform": paper_uniform,
    "naive_uniform": naive_uniform,
    "naive_normal": naive_normal,
    "composite": composite,
    "normal_beta_uniform": normal_beta_uniform,
    "beta_composite": beta_composite,
    "meta_composite": meta_composite,
    "meta_normal": meta_normal,
    "fitted_uniform": fitted_uniform,
    "fitted_normal": fitted_normal,
    "fitted_data": fitted_data,
    "gmm": gmm,
    "cgan": cgan,
}


def get_sampler(spec: str, key: str = "sampler") -> Sampler:
    """Returns the registered sampler a spec `name[:a,b,...]` names, after checking its arguments.

    Args:
        spec: the sampler's spec (see `specs.py`).
        key: the configuration key the spec came from, for the error message.

    Raises:
        ConfigError: for an unknown name, listing the known ones, or bad arguments, naming the
            sampler and the arguments it takes.
    """
    return SAMPLERS[parse_sampler_spec(spec, key).name]


def spec_options(spec: SamplerSpec, options: dict[str, Any] | None, key: str = "sampler") -> dict[str, Any]:
    """The spec's arguments merged with keyword `options`, checked against the spec's form.

    Raises:
        ConfigError: if an option contradicts the spec, or an argument given as an option is out of range.
    """
    options = dict(options or {})
    clashes = {k for k, v in spec.options.items() if k in options and options[k] != v}
    if clashes:
        raise ConfigError(
            f"Sampler {spec.text!r} sets {', '.join(sorted(clashes))}, and the options say otherwise: "
            f"{ {k: options[k] for k in sorted(clashes)} }.",
            "Give each argument once, in the spec.",
        )
    merged = {**options, **spec.options}
    as_options = {
        k: options[k] for k in options if k in FORMS[spec.name].defaults() and k not in spec.options
    }
    shown = spec.text or spec.name
    check_values(spec.name, merged, f"{shown} with options {as_options}" if as_options else shown, key)
    return merged


def sample_parameters(
    name: str, count: int, width: int, seed: int | list[int], options: dict[str, Any] | None = None
) -> np.ndarray:
    """Draws `[count, width]` unscaled parameter vectors with a registered sampler.

    Args:
        name: the sampler's spec, `name[:a,b,...]` ("naive_normal:1.8").
        count, width: the vectors' number and width.
        seed: the random seed.
        options: keyword options: the spec's arguments by keyword, and those outside the spec
            (`parameter_file`, `model_dir`, `target_scale`, ...).

    The same (spec, count, width, seed, options) always gives the same array;
    a spec and the same arguments given as options give the same array.

    Raises:
        ConfigError: for an unknown sampler, bad arguments or options, or non-positive sizes.
        ParameterError: if the sampler produced non-finite values.
    """
    spec = parse_sampler_spec(name)
    merged = spec_options(spec, options)
    if count <= 0 or width <= 0:
        raise ConfigError(f"Sample count and width must be positive. Received: count={count}, width={width}.")
    rng = np.random.default_rng(seed)
    try:
        values = SAMPLERS[spec.name](rng, count, width, **merged)
    except TypeError as error:
        raise ConfigError(f"Bad options {options} for sampler {name!r}: {error}.") from None
    values = np.asarray(values, dtype=np.float32)
    if not np.all(np.isfinite(values)):
        raise ParameterError(f"Sampler {name!r} produced non-finite values with options {options}.")
    return values


# Re-exported: callers name the sampler groups beside the registry.
__all__ = ["FITTED_SAMPLERS", "FORMS", "GENERATIVE_SAMPLERS", "SAMPLERS", "get_sampler", "sample_parameters"]


def repeat_identities(q: np.ndarray, renders_per_identity: int, count: int) -> np.ndarray:
    """`[count, m]`: each row of `[N, m]` q repeated `renders_per_identity` times in a row, cut to `count`.

    Raises:
        ConfigError: if the repeats cannot fill `count` rows.
    """
    if renders_per_identity < 1:
        raise ConfigError(f"renders_per_identity must be >= 1. Received: {renders_per_identity}.")
    repeated = np.repeat(np.asarray(q), renders_per_identity, axis=0)
    if len(repeated) < count:
        raise ConfigError(f"{len(q)} vectors x {renders_per_identity} renders cannot fill {count} examples.")
    return repeated[:count]
