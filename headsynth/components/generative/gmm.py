"""Gaussian mixture models of parameter vectors: fit over sizes and covariance types, AIC/BIC, select, sample.

The thesis's Table 5.4 fits mixtures of 1 ... 4000 components to the "good"
parameter vectors and reports AIC and BIC; it samples training data from
several of them (its Tables 6.2-6.6). Here:

    fits = fit_gmms(vectors, components=(1, 5, 25), covariance_types=("full",), seed=0)
    chosen = select_gmm(fits, "bic")             # or "aic", or a component count "25"
    save_gmm(path, chosen.mixture)
    q = sample_gmm(load_gmm(path), np.random.default_rng(0), 1000)

Sampling uses numpy's seeded generator (not scikit-learn's), so the same
seed gives the same vectors whatever scikit-learn version fitted the model.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from headsynth.core.errors import ConfigError, ParameterError
from headsynth.core.io_utils import atomic_path

COVARIANCE_TYPES = ("full", "diag", "tied", "spherical")
SELECTION_RULES = ("bic", "aic")


@dataclass(frozen=True)
class GaussianMixtureParameters:
    """A fitted mixture, independent of scikit-learn.

    Attributes:
        weights: `[K]` mixing weights (sum 1).
        means: `[K, m]` component means.
        covariances: as scikit-learn stores them per `covariance_type`:
            full `[K, m, m]`, diag `[K, m]`, tied `[m, m]`, spherical `[K]`.
        covariance_type: one of `COVARIANCE_TYPES`.
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    covariance_type: str

    @property
    def num_components(self) -> int:
        return int(len(self.weights))

    @property
    def num_parameters(self) -> int:
        return int(self.means.shape[1])

    def full_covariances(self) -> np.ndarray:
        """`[K, m, m]` covariance matrices whatever the type."""
        k, m = self.means.shape
        if self.covariance_type == "full":
            return np.asarray(self.covariances)
        if self.covariance_type == "diag":
            return np.stack([np.diag(c) for c in self.covariances])
        if self.covariance_type == "tied":
            return np.repeat(np.asarray(self.covariances)[None], k, axis=0)
        return np.stack([np.eye(m) * c for c in self.covariances])

    def num_free_parameters(self) -> int:
        """Free parameters (the count AIC/BIC penalise)."""
        k, m = self.means.shape
        covariance = {
            "full": k * m * (m + 1) // 2,
            "diag": k * m,
            "tied": m * (m + 1) // 2,
            "spherical": k,
        }[self.covariance_type]
        return int(covariance + k * m + k - 1)


@dataclass(frozen=True)
class GmmFit:
    """One fitted candidate with its scores (a row of the thesis's Table 5.4).

    Attributes:
        components: K.
        covariance_type: the covariance type.
        aic: Akaike information criterion on the fitted data (lower is better).
        bic: Bayesian information criterion (lower is better).
        log_likelihood: mean log-likelihood per vector.
        converged: whether EM converged.
        iterations: EM iterations run.
        free_parameters: parameters of the model.
        mixture: the fitted model.
    """

    components: int
    covariance_type: str
    aic: float
    bic: float
    log_likelihood: float
    converged: bool
    iterations: int
    free_parameters: int
    mixture: GaussianMixtureParameters

    @property
    def name(self) -> str:
        return f"gmm_{self.components}_{self.covariance_type}"

    def row(self) -> dict:
        """The scores as a JSON-ready dict (no arrays)."""
        return {
            "components": self.components,
            "covariance_type": self.covariance_type,
            "aic": self.aic,
            "bic": self.bic,
            "log_likelihood": self.log_likelihood,
            "converged": self.converged,
            "iterations": self.iterations,
            "free_parameters": self.free_parameters,
        }


def check_gmm_request(
    num_rows: int, components, covariance_types, source: str = "the parameter vectors"
) -> tuple[list[int], list[str]]:
    """Validates the candidate sizes and types against the data; returns them as lists.

    Raises:
        ConfigError: for non-positive sizes or an unknown covariance type.
        ParameterError: if the data has fewer vectors than the largest mixture has components.
    """
    components = [int(k) for k in components]
    covariance_types = list(covariance_types)
    if not components or any(k < 1 for k in components):
        raise ConfigError(f"GMM component counts must be positive integers. Received: {components}.")
    unknown = [t for t in covariance_types if t not in COVARIANCE_TYPES]
    if not covariance_types or unknown:
        raise ConfigError(
            f"Unknown GMM covariance type(s) {unknown or covariance_types}.",
            f"Choose from: {', '.join(COVARIANCE_TYPES)}.",
        )
    largest = max(components)
    if num_rows < largest:
        raise ParameterError(
            f"{source} has {num_rows} vectors, too few for a Gaussian mixture with {largest} components "
            f"(at least {largest} are needed, one per component).",
            f"Give more vectors, or fit fewer components (e.g. at most {max(1, num_rows // 10)}).",
        )
    return components, covariance_types


def fit_gmms(
    vectors: np.ndarray,
    components=(1, 5, 25),
    covariance_types=("full",),
    seed: int = 0,
    reg_covar: float = 1e-3,
    max_iter: int = 200,
    n_init: int = 1,
    source: str = "the parameter vectors",
) -> list[GmmFit]:
    """Fits one mixture per (component count, covariance type), in that order.

    Args:
        vectors: `[n, m]` data.
        components: component counts to try.
        covariance_types: scikit-learn covariance types to try.
        seed: EM initialisation seed.
        reg_covar: added to the covariance diagonals (data units squared).
        max_iter: EM iterations at most.
        n_init: EM restarts (the best is kept).
        source: names the data in error messages.

    Raises:
        ConfigError, ParameterError: see `check_gmm_request`; ParameterError
            also for non-finite or non-2-D data.
    """
    vectors = np.asarray(vectors, np.float64)
    if vectors.ndim != 2 or not np.all(np.isfinite(vectors)):
        raise ParameterError(f"{source} must be a finite [n, m] array. Received shape {list(vectors.shape)}.")
    components, covariance_types = check_gmm_request(len(vectors), components, covariance_types, source)
    return [
        fit_gmm(vectors, k, covariance_type, seed, reg_covar, max_iter, n_init)
        for covariance_type in covariance_types
        for k in components
    ]


def fit_gmm(
    vectors: np.ndarray,
    components: int,
    covariance_type: str,
    seed: int = 0,
    reg_covar: float = 1e-3,
    max_iter: int = 200,
    n_init: int = 1,
) -> GmmFit:
    """Fits one mixture to `[n, m]` float64 vectors with scikit-learn's EM (arguments as `fit_gmms`)."""
    # scikit-learn is imported only where a mixture is fitted; sampling and loading do without it.
    from sklearn.mixture import GaussianMixture

    model = GaussianMixture(
        n_components=components,
        covariance_type=covariance_type,
        reg_covar=reg_covar,
        max_iter=max_iter,
        n_init=n_init,
        random_state=seed,
    )
    model.fit(vectors)
    mixture = GaussianMixtureParameters(
        model.weights_.copy(), model.means_.copy(), model.covariances_.copy(), covariance_type
    )
    return GmmFit(
        components=components,
        covariance_type=covariance_type,
        aic=float(model.aic(vectors)),
        bic=float(model.bic(vectors)),
        log_likelihood=float(model.score(vectors)),
        converged=bool(model.converged_),
        iterations=int(model.n_iter_),
        free_parameters=mixture.num_free_parameters(),
        mixture=mixture,
    )


def select_gmm(fits: list[GmmFit], rule: str = "bic") -> GmmFit:
    """Chooses a candidate: lowest BIC ("bic"), lowest AIC ("aic"), or a component count ("25";
    the lowest BIC among the covariance types fitted with that count).

    Raises:
        ConfigError: for an unknown rule or a count that was not fitted.
    """
    if not fits:
        raise ConfigError("No GMMs were fitted.")
    if rule in SELECTION_RULES:
        return min(fits, key=lambda fit: getattr(fit, rule))
    try:
        count = int(rule)
    except ValueError:
        raise ConfigError(
            f"Unknown GMM selection rule {rule!r}.",
            "Use bic, aic, or a fitted component count such as 25.",
        ) from None
    matching = [fit for fit in fits if fit.components == count]
    if not matching:
        raise ConfigError(
            f"GMM selection {rule!r} names a component count that was not fitted.",
            f"Fitted counts: {sorted({fit.components for fit in fits})}.",
        )
    return min(matching, key=lambda fit: fit.bic)


def sample_gmm(mixture: GaussianMixtureParameters, rng: np.random.Generator, count: int) -> np.ndarray:
    """`[count, m]` vectors: component counts ~ Multinomial(count, weights), then N(mean, cov); rows shuffled."""
    weights = np.asarray(mixture.weights, np.float64)
    counts = rng.multinomial(count, weights / weights.sum())
    covariances = mixture.full_covariances()
    parts = []
    for k, n in enumerate(counts):
        if n:
            chol = np.linalg.cholesky(covariances[k] + 1e-12 * np.eye(mixture.num_parameters))
            parts.append(mixture.means[k] + rng.standard_normal((n, mixture.num_parameters)) @ chol.T)
    return rng.permutation(np.concatenate(parts, axis=0), axis=0)


def gmm_log_density(mixture: GaussianMixtureParameters, vectors: np.ndarray) -> np.ndarray:
    """`[n]` log-density of vectors under the mixture."""
    vectors = np.asarray(vectors, np.float64)
    covariances = mixture.full_covariances()
    per_component = np.stack(
        [
            np.log(w) + multivariate_normal(mean, cov, allow_singular=True).logpdf(vectors)
            for w, mean, cov in zip(mixture.weights, mixture.means, covariances, strict=True)
        ],
        axis=-1,
    )
    return logsumexp(np.atleast_2d(per_component), axis=-1)


def save_gmm(path: str | os.PathLike, mixture: GaussianMixtureParameters) -> None:
    """Writes the mixture as `.npz` (weights, means, covariances, covariance_type), atomically."""
    buffer = io.BytesIO()
    np.savez(
        buffer,
        weights=mixture.weights,
        means=mixture.means,
        covariances=mixture.covariances,
        covariance_type=np.asarray(mixture.covariance_type),
    )
    with atomic_path(os.fspath(path)) as tmp:
        with tf.io.gfile.GFile(tmp, "wb") as f:
            f.write(buffer.getvalue())


def load_gmm(path: str | os.PathLike) -> GaussianMixtureParameters:
    """Reads a mixture written by `save_gmm`.

    Raises:
        ParameterError: if the file is missing or not a mixture.
    """
    path = os.fspath(path)
    if not tf.io.gfile.exists(path):
        raise ParameterError(f"GMM file {path} does not exist.", "Run FitGenerativeModel first.")
    try:
        with tf.io.gfile.GFile(path, "rb") as f:
            with np.load(io.BytesIO(f.read()), allow_pickle=False) as data:
                return GaussianMixtureParameters(
                    data["weights"], data["means"], data["covariances"], str(data["covariance_type"])
                )
    except (KeyError, ValueError, OSError) as error:
        raise ParameterError(f"GMM file {path} cannot be read ({error}).", "Fit the model again.") from None
