"""A held-out synthetic "realistic" population that is not the face model's own PCA population.

The built-in model's stored identities (`MorphableModel.population`) are the
population its PCA was built from: in q they are exactly zero-mean, unit-variance
and uncorrelated within shape and within texture, i.e. N(0, I) to second order.
Realistic vectors drawn from them make the thesis's samplers study degenerate
(the test identities are N(0, I), "fitted normal" is naive normal(1), and the
GMM and GAN are fitted to the test distribution). The thesis's realistic
vectors came from fits of real photos, whose population differs from the
model's (older, bimodal in sex, non-zero mean; its Section 6.4).

`heldout_population` draws such a population, deterministic from a seed:

Traits (as the built-in builder's `sample_traits`, with other marginals):

    sex             50/50 (1 = male), with the sex-typical traits pronounced:
                    the sex offsets of face width, nose size and brow thickness
                    are `SEX_GAIN` (2) times the builder's and their within-sex
                    spread `SEX_SPREAD` (0.5) times, so these traits are
                    bimodal; 80% of men (builder: 55%) have stubble/beards, 0.5..1.
    age             older: 35 + 45 * Beta(3, 1.2) years (mean ~67, range
                    35..80; builder: 18 + 62 * Beta(1.3, 1.6), mean ~47).
    skin_tone       another mix: 50% light Beta(2, 12) (mean 0.14), 50% dark
                    Beta(10, 3) (mean 0.77) (builder: one Beta(1.4, 2.2), mean 0.39).
    weight, hair    as the builder: weight ~ N(0.25 age_z + 0.1 sex, 0.9),
                    hair_darkness = clip(0.45 + 0.9 skin + N(0, 0.35)).

Mapping traits -> q, learnt at run time from the model's stored identities:
a ridge regression (`RIDGE`, intercept not penalised) of their q (the model's
shape and texture components, sigma units) on trait features (sex, age_z,
age_z^2, skin, skin^2, weight, face width, nose size, brow thickness, stubble,
hair darkness, sex * age_z; standardised by the stored identities), plus a
residual drawn from N(0, Sigma_res), the covariance of the regression's
residuals. Residuals are drawn rather than resampled so that no two generated
identities (e.g. one in a study's fit part and one in its test part) share one.
The result lives in the model's space; its distribution differs from N(0, I):
a non-zero mean and non-unit variances in the trait-driven components, and
two modes along the sex direction. 2,000 identities take about 20 ms.
"""

from __future__ import annotations

import numpy as np

from headsynth.core.errors import ConfigError, ParameterError

HELDOUT_POPULATION = "heldout_population"
DEFAULT_SIZE = 2000
TRAIT_KEYS = (
    "sex",
    "age",
    "skin_tone",
    "weight",
    "face_width",
    "nose_size",
    "brow_thickness",
    "stubble",
    "hair_darkness",
)
SEX_GAIN = 2.0  # sex offsets of face width, nose and brows, relative to the builder's
SEX_SPREAD = 0.5  # their within-sex spread, relative to the builder's
RIDGE = 1.0  # penalty on the standardised trait features' weights


def held_out_traits(count: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Traits of `count` identities from the held-out distribution (see the module docstring).

    Returns:
        `TRAIT_KEYS` -> `[count]` float64 arrays (sex 0/1, age in years, skin_tone in [0, 1]).
    """
    sex = (rng.uniform(size=count) < 0.5).astype(np.float64)
    age = 35.0 + 45.0 * rng.beta(3.0, 1.2, size=count)
    age_z = (age - 45.0) / 17.0  # the builder's age scale, so its trait effects keep their meaning
    dark = rng.uniform(size=count) < 0.5
    skin_tone = np.where(dark, rng.beta(10.0, 3.0, size=count), rng.beta(2.0, 12.0, size=count))
    weight = rng.normal(0.25 * age_z + 0.1 * sex, 0.9)
    face_width = rng.normal(SEX_GAIN * (0.55 * sex - 0.27) + 0.35 * weight, 0.8 * SEX_SPREAD)
    nose_size = rng.normal(SEX_GAIN * (0.6 * sex - 0.3) + 0.35 * age_z + 0.2 * skin_tone, 0.8 * SEX_SPREAD)
    brow_thickness = rng.normal(SEX_GAIN * (0.8 * sex - 0.4) - 0.2 * age_z, 0.7 * SEX_SPREAD)
    has_beard = rng.uniform(size=count) < 0.8
    stubble = sex * has_beard * rng.uniform(0.5, 1.0, size=count)
    hair_darkness = np.clip(0.45 + 0.9 * skin_tone + rng.normal(0.0, 0.35, size=count), 0.0, 1.0)
    return {
        "sex": sex,
        "age": age,
        "skin_tone": skin_tone,
        "weight": weight,
        "face_width": face_width,
        "nose_size": nose_size,
        "brow_thickness": brow_thickness,
        "stubble": stubble,
        "hair_darkness": hair_darkness,
    }


def trait_features(traits: dict[str, np.ndarray]) -> np.ndarray:
    """`[n, 12]` regression features of the traits (linear, age and skin squared, sex x age)."""
    t = {key: np.asarray(traits[key], np.float64) for key in TRAIT_KEYS}
    age_z = (t["age"] - 45.0) / 17.0
    columns = [t["sex"], age_z, age_z**2, t["skin_tone"], t["skin_tone"] ** 2]
    columns += [t[key] for key in ("weight", "face_width", "nose_size", "brow_thickness", "stubble")]
    columns += [t["hair_darkness"], t["sex"] * age_z]
    return np.stack(columns, axis=1)


class TraitMapping:
    """Ridge regression of q on trait features, with the residuals' covariance.

    Args:
        traits: `TRAIT_KEYS` -> `[n]` traits of the identities.
        q: `[n, m]` their coefficients in sigma units.
        ridge: penalty on the standardised features' weights.
    """

    def __init__(self, traits: dict[str, np.ndarray], q: np.ndarray, ridge: float = RIDGE) -> None:
        x = trait_features(traits)
        q = np.asarray(q, np.float64)
        self.feature_mean = x.mean(axis=0)
        self.feature_std = np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
        design = self._design(x)
        penalty = ridge * np.eye(design.shape[1])
        penalty[0, 0] = 0.0  # the intercept is not shrunk
        self.weights = np.linalg.solve(design.T @ design + penalty, design.T @ q)  # [1 + f, m]
        residuals = q - design @ self.weights
        dof = max(len(q) - design.shape[1], 1)
        self.residual_covariance = residuals.T @ residuals / dof  # [m, m]
        # A symmetric square root: the covariance may be singular (fewer identities than m).
        values, vectors = np.linalg.eigh(self.residual_covariance)
        self.residual_root = vectors * np.sqrt(np.clip(values, 0.0, None))

    def _design(self, x: np.ndarray) -> np.ndarray:
        standardised = (x - self.feature_mean) / self.feature_std
        return np.concatenate([np.ones((len(x), 1)), standardised], axis=1)

    def predict(self, traits: dict[str, np.ndarray]) -> np.ndarray:
        """`[n, m]` the regression's q for the traits (no residual)."""
        return self._design(trait_features(traits)) @ self.weights

    def sample(self, traits: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
        """`[n, m]` q: the regression's prediction plus a residual from N(0, Sigma_res)."""
        mean = self.predict(traits)
        noise = rng.standard_normal(mean.shape) @ self.residual_root.T
        return mean + noise


def stored_population_q(model, missing_hint: str) -> np.ndarray:
    """`[n, m]` float64 q (the model's components, sigma units) of the identities the model stores.

    Args:
        model: the face model.
        missing_hint: what the population is needed for, named in the error when it is absent.

    Raises:
        ParameterError: if the model stores no population coefficients (e.g. a BFM file), or
            fewer components than it uses.
    """
    population = model.population
    if not all(key in population for key in ("shape_coefficients", "texture_coefficients")):
        raise ParameterError(
            f"Face model {model.name!r} stores no population coefficients {missing_hint}.",
            "Use the built-in face model, or give realistic vectors as a parameter file "
            "(generative.source=PATH) or from photos (generative.source=photos).",
        )
    k_shape, k_texture = model.shape.num_components, model.texture.num_components
    shape, texture = population["shape_coefficients"], population["texture_coefficients"]
    if shape.shape[1] < k_shape or texture.shape[1] < k_texture:
        raise ParameterError(
            f"Face model {model.name!r} stores population coefficients for {shape.shape[1]} shape + "
            f"{texture.shape[1]} texture components; the model uses {k_shape} + {k_texture}."
        )
    return np.concatenate([shape[:, :k_shape], texture[:, :k_texture]], axis=1).astype(np.float64)


def stored_traits_and_q(model) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The model's stored identities: traits and `[n, m]` q (its components, sigma units).

    Raises:
        ParameterError: if the model stores no population or lacks traits or components.
    """
    missing = [key for key in TRAIT_KEYS if key not in model.population]
    if missing:
        raise ParameterError(
            f"Face model {model.name!r} stores no labelled population to learn the held-out population's "
            f"trait mapping from (missing: {', '.join(missing)}).",
            "Use the built-in face model, or give realistic vectors as a parameter file "
            "(generative.source=PATH) or from photos (generative.source=photos).",
        )
    q = stored_population_q(model, "to learn the held-out population's trait mapping from")
    traits = {key: np.asarray(model.population[key], np.float64) for key in TRAIT_KEYS}
    return traits, q


def heldout_population(model, size: int = DEFAULT_SIZE, seed: int = 0):
    """`size` identities of the held-out population in the model's space (see the module docstring).

    Returns:
        (`[size, m]` float32 q in sigma units, traits `TRAIT_KEYS` -> `[size]` float64).

    Raises:
        ConfigError: if `size` < 2.
        ParameterError: if the model stores no labelled population (see `stored_traits_and_q`).
    """
    if int(size) != size or size < 2:
        raise ConfigError(
            f"The held-out population needs at least 2 identities. Received: {size!r}.",
            "Set e.g. --set generative.heldout_size=2000.",
        )
    stored_traits, stored_q = stored_traits_and_q(model)
    mapping = TraitMapping(stored_traits, stored_q)
    rng = np.random.default_rng([int(seed), 4004])  # a stream of its own, apart from the fits' seed
    traits = held_out_traits(int(size), rng)
    return mapping.sample(traits, rng).astype(np.float32), traits
