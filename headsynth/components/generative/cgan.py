"""Training and sampling the conditional GAN (CVGAN1/CVGAN2, `headsynth/models/cgan.py`) on labelled vectors.

    gan, summary = train_cgan(vectors, ages, sexes, "cvgan2", steps=2000, seed=0)
    save_cgan(gan, "cvgan2.keras")
    q = sample_cgan(load_cgan("cvgan2.keras"), rng, 1000, ages=[30, 60], sexes=[0, 1])

Vectors with ages outside the GAN's age range (the thesis: 18..80, where the
BFM stops looking realistic) are left out of training, as in the thesis.
"""

from __future__ import annotations

import os
import time

import keras
import numpy as np
import tensorflow as tf

from headsynth.core.errors import ConfigError, ParameterError
from headsynth.core.io_utils import atomic_path
from headsynth.models.cgan import CGAN_PRESETS, ConditionalGAN, build_cgan

AGE_RANGE = (18.0, 80.0)


def check_labels(
    ages, sexes, count: int, source: str = "the parameter vectors"
) -> tuple[np.ndarray, np.ndarray]:
    """Validates `[n]` age and sex labels (sex: 0 female, 1 male).

    Raises:
        ParameterError: for missing labels, a wrong length, non-finite ages or sexes other than 0/1.
    """
    if ages is None or sexes is None:
        missing = [name for name, value in (("age", ages), ("sex", sexes)) if value is None]
        raise ParameterError(
            f"{source} has no {' or '.join(missing)} labels; the conditional GAN needs both.",
            "Give a parameter file with 'age' and 'sex' columns (or keys), or fit only GMMs "
            "(generative.cgan_variants empty).",
        )
    ages = np.asarray(ages, np.float64).reshape(-1)
    sexes = np.asarray(sexes, np.float64).reshape(-1)
    if len(ages) != count or len(sexes) != count:
        raise ParameterError(
            f"{source}: {len(ages)} ages and {len(sexes)} sexes for {count} vectors; expected one each."
        )
    if not np.all(np.isfinite(ages)):
        raise ParameterError(f"{source} has NaN or infinite ages.", "Repair or remove those rows.")
    if not np.all(np.isin(sexes, (0.0, 1.0))):
        bad = sorted(set(np.unique(sexes)) - {0.0, 1.0})[:5]
        raise ParameterError(f"{source} has sex labels {bad}; expected 0 (female) or 1 (male).")
    return ages, sexes


def train_cgan(
    vectors: np.ndarray,
    ages,
    sexes,
    variant: str = "cvgan2",
    steps: int = 2000,
    batch_size: int = 64,
    learning_rate: float = 2e-4,
    seed: int = 0,
    latent_dim: int = 20,
    age_range: tuple[float, float] = AGE_RANGE,
    source: str = "the parameter vectors",
):
    """Trains one CGAN variant; returns (the model, a summary dict with losses and timings).

    Raises:
        ConfigError: for an unknown variant or non-positive steps/batch size.
        ParameterError: for bad labels or fewer than 2 vectors inside the age range.
    """
    check_training(variant, steps, batch_size, learning_rate)
    vectors = np.asarray(vectors, np.float32)
    ages, sexes = check_labels(ages, sexes, len(vectors), source)
    inside = (ages >= age_range[0]) & (ages <= age_range[1])
    if inside.sum() < 2:
        raise ParameterError(
            f"{source} has {int(inside.sum())} vectors with ages in {age_range[0]:g}..{age_range[1]:g}; "
            "the conditional GAN needs at least 2."
        )
    keras.utils.set_random_seed(seed)
    gan = build_cgan(variant, vectors.shape[1], latent_dim=latent_dim, age_range=age_range, seed=seed)
    gan.adapt(vectors[inside])
    gan.compile(
        generator_optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5),
        discriminator_optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5),
    )
    started = time.monotonic()
    history = fit_epochs(gan, vectors[inside], ages[inside], sexes[inside], steps, batch_size, seed)
    summary = {
        "variant": variant,
        "steps": int(steps),
        "batch_size": int(min(batch_size, int(inside.sum()))),
        "learning_rate": float(learning_rate),
        "latent_dim": int(latent_dim),
        "age_range": [float(a) for a in age_range],
        "vectors": int(inside.sum()),
        "left_out_ages": int((~inside).sum()),
        "d_loss": history["d_loss"],
        "g_loss": history["g_loss"],
        "seconds": time.monotonic() - started,
        "generator_parameters": int(gan.generator.count_params()),
        "discriminator_parameters": int(gan.discriminator.count_params()),
    }
    return gan, summary


def check_training(variant: str, steps: int, batch_size: int, learning_rate: float) -> None:
    """Raises ConfigError for an unknown variant or non-positive steps, batch size or learning rate."""
    if variant not in CGAN_PRESETS:
        raise ConfigError(f"Unknown CGAN variant {variant!r}.", f"Choose from: {', '.join(CGAN_PRESETS)}.")
    if steps < 1 or batch_size < 1 or learning_rate <= 0:
        raise ConfigError(
            f"CGAN steps, batch size and learning rate must be positive. Received: {steps}, {batch_size}, "
            f"{learning_rate}."
        )


def fit_epochs(
    gan: ConditionalGAN,
    vectors: np.ndarray,
    ages: np.ndarray,
    sexes: np.ndarray,
    steps: int,
    batch_size: int,
    seed: int,
) -> dict[str, list[float]]:
    """Trains `steps` steps in up to 10 epochs; returns each epoch's final "d_loss" and "g_loss"."""
    epochs = max(1, min(10, steps // 100))
    per_epoch = [steps // epochs + (1 if e < steps % epochs else 0) for e in range(epochs)]
    history: dict[str, list[float]] = {"d_loss": [], "g_loss": []}
    for epoch, epoch_steps in enumerate(per_epoch):
        # A fresh dataset per fit: iterators of one reshuffling dataset share a seed generator that
        # the previous fit's prefetch read-ahead advanced by a timing-dependent amount.
        dataset = gan.make_dataset(vectors, ages, sexes, batch_size, seed + epoch)
        result = gan.fit(dataset, steps_per_epoch=epoch_steps, epochs=1, verbose=0, shuffle=False)
        for key in history:
            history[key].append(float(result.history[key][-1]))
    return history


def save_cgan(gan, path: str | os.PathLike) -> None:
    """Writes the whole GAN (G, D, normalization, config) as a `.keras` file."""
    path = os.fspath(path)
    with atomic_path(path) as tmp:
        gan.save(tmp + ".keras")
        tf.io.gfile.rename(tmp + ".keras", tmp, overwrite=True)


def load_cgan(path: str | os.PathLike):
    """Reads a GAN written by `save_cgan`.

    Raises:
        ParameterError: if the file is missing or not a CGAN.
    """
    path = os.fspath(path)
    if not tf.io.gfile.exists(path):
        raise ParameterError(
            f"CGAN file {path} does not exist.", "Run FitGenerativeModel with a CGAN variant."
        )
    try:
        gan = keras.models.load_model(path, compile=False)
    except (ValueError, OSError, TypeError) as error:
        raise ParameterError(f"CGAN file {path} cannot be read ({error}).", "Fit the model again.") from None
    if not isinstance(gan, ConditionalGAN):
        raise ParameterError(f"{path} holds a {type(gan).__name__}, not a ConditionalGAN.")
    return gan


def sample_labels(
    rng: np.random.Generator,
    count: int,
    ages=(),
    sexes=(),
    pool: tuple[np.ndarray, np.ndarray] | None = None,
    age_range: tuple[float, float] = AGE_RANGE,
) -> tuple[np.ndarray, np.ndarray]:
    """The (age, sex) of each of `count` samples.

    With `ages` and/or `sexes` given, the samples cycle through every
    combination of them in order (balanced); an empty list takes that label
    from `pool` (the training labels, drawn with replacement). With neither,
    (age, sex) pairs are drawn from `pool`.

    Raises:
        ConfigError: for ages outside `age_range`, sexes other than 0/1, or no pool when one is needed.
    """
    ages = [float(a) for a in ages]
    sexes = [float(s) for s in sexes]
    outside = [a for a in ages if not age_range[0] <= a <= age_range[1]]
    if outside:
        raise ConfigError(
            f"GAN ages {outside} are outside the range it was trained on ({age_range[0]:g}..{age_range[1]:g}).",
            "Ask for ages inside that range.",
        )
    if any(s not in (0.0, 1.0) for s in sexes):
        raise ConfigError(f"GAN sexes must be 0 (female) or 1 (male). Received: {sexes}.")
    if (not ages or not sexes) and pool is None:
        raise ConfigError("The GAN sampler needs ages and sexes: give both, or a model with training labels.")
    drawn = rng.integers(0, len(pool[0]), size=count) if pool is not None else None
    if ages and sexes:
        grid = [(a, s) for a in ages for s in sexes]
        pairs = np.array([grid[i % len(grid)] for i in range(count)], np.float64)
        return pairs[:, 0], pairs[:, 1]
    if ages:
        return np.array([ages[i % len(ages)] for i in range(count)]), np.asarray(pool[1])[drawn]
    if sexes:
        return np.asarray(pool[0])[drawn], np.array([sexes[i % len(sexes)] for i in range(count)])
    return np.asarray(pool[0])[drawn], np.asarray(pool[1])[drawn]


def sample_cgan(
    gan,
    rng: np.random.Generator,
    count: int,
    ages=(),
    sexes=(),
    pool: tuple[np.ndarray, np.ndarray] | None = None,
    batch_size: int = 4096,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`[count, m]` vectors (data units) with their ages and sexes (see `sample_labels`)."""
    sample_ages, sample_sexes = sample_labels(rng, count, ages, sexes, pool, tuple(gan.age_range))
    latent = rng.standard_normal((count, gan.latent_dim)).astype(np.float32)
    parts = [
        gan.generate(
            sample_ages[i : i + batch_size],
            sample_sexes[i : i + batch_size],
            latent=latent[i : i + batch_size],
        )
        for i in range(0, count, batch_size)
    ]
    return np.concatenate(parts, axis=0), sample_ages, sample_sexes
