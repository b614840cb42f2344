"""The thesis's conditional GAN on age and sex (its Tables 5.2 and 5.3, losses 5.1a and 5.1b).

A generator G maps a latent vector Z (20 values) and the labels (age, sex) to
a parameter vector; a discriminator D scores a parameter vector together with
its labels (real from data, or fake from G). Two variants:

    CVGAN1  G: 2000 -> 1000 -> 500, leaky ReLU, dropout 50% after each (no input noise)
            D: 2000 -> 1000 -> 500, leaky ReLU, dropout 50% after each
    CVGAN2  G: 500 -> 500, leaky ReLU, no dropout
            D: 500 -> 500, leaky ReLU, dropout 50% after each; its input vectors get N(0, 0.1) noise

G ends in a dense layer with m tanh outputs, concatenated with the labels
(Table 5.2's last row; here D concatenates them); D ends in one dense unit
(a logit). The losses, with D's logit d:

    L_D = -log(sigmoid(d(X))) - log(1 - sigmoid(d(G(Z))))      (5.1a)
    L_G = -log(sigmoid(d(G(Z))))                               (5.1b, the non-saturating loss)

Units: G's tanh output lies in [-1, 1]; the model keeps per-parameter
`data_mean` and `data_scale` (set by `adapt`) and works in normalized units
`(x - data_mean) / data_scale` internally, so `generate` returns vectors in
the units of the data it was adapted to (for headsynth: q in units of sigma).
Labels are encoded as `2 (age - age_min) / (age_max - age_min) - 1` and
`2 sex - 1` (sex: 0 female, 1 male); the thesis trains on ages 18..80.

    gan = build_cgan("cvgan2", num_parameters=16)
    gan.adapt(vectors)
    gan.compile()
    gan.fit(gan.make_dataset(vectors, ages, sexes, batch_size=64), steps_per_epoch=2000, epochs=1)
    samples = gan.generate(ages=[30, 60], sexes=[0, 1], seed=0)
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

# The thesis does not give the leaky ReLU slope; 0.2 is the usual GAN choice (DCGAN).
LEAKY_RELU_SLOPE = 0.2
NUM_LABELS = 2  # age, sex

CGAN_PRESETS: dict[str, dict] = {
    # Table 5.2/5.3, "M1": three layers, dropout in G and D, no noise.
    "cvgan1": {
        "generator_units": (2000, 1000, 500),
        "discriminator_units": (2000, 1000, 500),
        "generator_dropout": 0.5,
        "discriminator_dropout": 0.5,
        "input_noise": 0.0,
    },
    # Table 5.2/5.3, "M2": two layers of 500, dropout in D only, N(0, 0.1) noise on D's input vectors.
    "cvgan2": {
        "generator_units": (500, 500),
        "discriminator_units": (500, 500),
        "generator_dropout": 0.0,
        "discriminator_dropout": 0.5,
        "input_noise": 0.1,
    },
}


def _check_units(name: str, units) -> list[int]:
    units = list(units)
    if not units or any((not isinstance(u, int)) or isinstance(u, bool) or u <= 0 for u in units):
        raise ValueError(f"`{name}` must be a non-empty list of positive integers. Received: {name}={units}")
    return units


def _check_positive_int(name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value}")


def _check_rate(name: str, value) -> None:
    if not isinstance(value, int | float) or not 0.0 <= value < 1.0:
        raise ValueError(f"`{name}` must be in [0, 1). Received: {name}={value}")


# --- Generator and discriminator ------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="headsynth")
class ConditionalGenerator(keras.Model):
    """G: (latent `[B, latent_dim]`, labels `[B, 2]`) -> normalized parameters `[B, m]` in [-1, 1].

    Args:
        num_parameters: output width m.
        latent_dim: width of Z (the thesis: 20).
        hidden_units: widths of the dense leaky-ReLU layers.
        dropout: dropout rate after each hidden layer (0: none).
        leaky_slope: negative slope of the leaky ReLUs.
    """

    def __init__(
        self,
        num_parameters: int,
        latent_dim: int = 20,
        hidden_units: tuple[int, ...] | list[int] = (500, 500),
        dropout: float = 0.0,
        leaky_slope: float = LEAKY_RELU_SLOPE,
        **kwargs,
    ) -> None:
        _check_positive_int("num_parameters", num_parameters)
        _check_positive_int("latent_dim", latent_dim)
        hidden_units = _check_units("hidden_units", hidden_units)
        _check_rate("dropout", dropout)
        if not leaky_slope >= 0:
            raise ValueError(f"`leaky_slope` must be >= 0. Received: leaky_slope={leaky_slope}")

        # === Functional model ===
        latent = keras.Input(shape=(latent_dim,), name="latent")
        labels = keras.Input(shape=(NUM_LABELS,), name="labels")
        x = keras.layers.Concatenate(name="latent_and_labels")([latent, labels])
        for i, units in enumerate(hidden_units):
            x = keras.layers.Dense(units, name=f"dense{i}")(x)
            x = keras.layers.LeakyReLU(negative_slope=leaky_slope, name=f"leaky_relu{i}")(x)
            if dropout:
                x = keras.layers.Dropout(dropout, name=f"dropout{i}")(x)
        outputs = keras.layers.Dense(num_parameters, activation="tanh", name="parameters")(x)
        super().__init__(inputs=[latent, labels], outputs=outputs, **kwargs)

        # === Config ===
        self.num_parameters = num_parameters
        self.latent_dim = latent_dim
        self.hidden_units = hidden_units
        self.dropout = float(dropout)
        self.leaky_slope = float(leaky_slope)

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "num_parameters": self.num_parameters,
            "latent_dim": self.latent_dim,
            "hidden_units": list(self.hidden_units),
            "dropout": self.dropout,
            "leaky_slope": self.leaky_slope,
        }


@keras.saving.register_keras_serializable(package="headsynth")
class ConditionalDiscriminator(keras.Model):
    """D: (normalized parameters `[B, m]`, labels `[B, 2]`) -> one logit `[B, 1]` (real vs fake).

    Args:
        num_parameters: input width m.
        hidden_units: widths of the dense leaky-ReLU layers.
        dropout: dropout rate after each hidden layer.
        input_noise: standard deviation of the Gaussian noise added to the
            parameter vectors while training (CVGAN2: 0.1; 0: none).
        leaky_slope: negative slope of the leaky ReLUs.
    """

    def __init__(
        self,
        num_parameters: int,
        hidden_units: tuple[int, ...] | list[int] = (500, 500),
        dropout: float = 0.5,
        input_noise: float = 0.0,
        leaky_slope: float = LEAKY_RELU_SLOPE,
        **kwargs,
    ) -> None:
        _check_positive_int("num_parameters", num_parameters)
        hidden_units = _check_units("hidden_units", hidden_units)
        _check_rate("dropout", dropout)
        if not input_noise >= 0:
            raise ValueError(f"`input_noise` must be >= 0. Received: input_noise={input_noise}")
        if not leaky_slope >= 0:
            raise ValueError(f"`leaky_slope` must be >= 0. Received: leaky_slope={leaky_slope}")

        # === Functional model ===
        parameters = keras.Input(shape=(num_parameters,), name="parameters")
        labels = keras.Input(shape=(NUM_LABELS,), name="labels")
        x = parameters
        if input_noise:
            x = keras.layers.GaussianNoise(input_noise, name="input_noise")(x)
        x = keras.layers.Concatenate(name="parameters_and_labels")([x, labels])
        for i, units in enumerate(hidden_units):
            x = keras.layers.Dense(units, name=f"dense{i}")(x)
            x = keras.layers.LeakyReLU(negative_slope=leaky_slope, name=f"leaky_relu{i}")(x)
            if dropout:
                x = keras.layers.Dropout(dropout, name=f"dropout{i}")(x)
        logit = keras.layers.Dense(1, name="logit")(x)
        super().__init__(inputs=[parameters, labels], outputs=logit, **kwargs)

        # === Config ===
        self.num_parameters = num_parameters
        self.hidden_units = hidden_units
        self.dropout = float(dropout)
        self.input_noise = float(input_noise)
        self.leaky_slope = float(leaky_slope)

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "num_parameters": self.num_parameters,
            "hidden_units": list(self.hidden_units),
            "dropout": self.dropout,
            "input_noise": self.input_noise,
            "leaky_slope": self.leaky_slope,
        }


# --- Losses ---------------------------------------------------------------------------------------


def discriminator_loss(real_logits, fake_logits):
    """Eq. 5.1a, -log D(X) - log(1 - D(G(Z))) with D = sigmoid(logit), averaged over the batch."""
    # -log(sigmoid(a)) = softplus(-a); -log(1 - sigmoid(a)) = softplus(a): stable for large |a|.
    return ops.mean(ops.softplus(-real_logits)) + ops.mean(ops.softplus(fake_logits))


def generator_loss(fake_logits):
    """Eq. 5.1b, -log(sigmoid(D(G(Z)))), averaged over the batch."""
    return ops.mean(ops.softplus(-fake_logits))


# --- The GAN --------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="headsynth")
class ConditionalGAN(keras.Model):
    """A conditional GAN of parameter vectors on (age, sex): the thesis's CVGAN1 / CVGAN2.

    Calling the model runs the generator: `gan([latent, labels])` -> vectors in data units.

    Args:
        num_parameters: width m of the parameter vectors.
        latent_dim: width of Z (the thesis: 20).
        generator_units: G's hidden layer widths.
        discriminator_units: D's hidden layer widths.
        generator_dropout: dropout after each of G's hidden layers.
        discriminator_dropout: dropout after each of D's hidden layers.
        input_noise: std of the noise on D's input vectors while training.
        leaky_slope: negative slope of every leaky ReLU.
        age_range: (min, max) age the labels are scaled from (the thesis: 18..80).
        seed: seed of the latent draws while training.
    """

    def __init__(
        self,
        num_parameters: int,
        latent_dim: int = 20,
        generator_units: tuple[int, ...] | list[int] = (500, 500),
        discriminator_units: tuple[int, ...] | list[int] = (500, 500),
        generator_dropout: float = 0.0,
        discriminator_dropout: float = 0.5,
        input_noise: float = 0.1,
        leaky_slope: float = LEAKY_RELU_SLOPE,
        age_range: tuple[float, float] | list[float] = (18.0, 80.0),
        seed: int | None = None,
        **kwargs,
    ) -> None:
        age_range = [float(a) for a in age_range]
        if len(age_range) != 2 or not age_range[0] < age_range[1]:
            raise ValueError(
                f"`age_range` must be (min, max) with min < max. Received: age_range={age_range}"
            )
        super().__init__(**kwargs)
        self.generator = ConditionalGenerator(
            num_parameters, latent_dim, generator_units, generator_dropout, leaky_slope, name="generator"
        )
        self.discriminator = ConditionalDiscriminator(
            num_parameters,
            discriminator_units,
            discriminator_dropout,
            input_noise,
            leaky_slope,
            name="discriminator",
        )
        self.data_mean = self.add_weight(
            name="data_mean", shape=(num_parameters,), initializer="zeros", trainable=False
        )
        self.data_scale = self.add_weight(
            name="data_scale", shape=(num_parameters,), initializer="ones", trainable=False
        )
        self.num_parameters = num_parameters
        self.latent_dim = latent_dim
        self.age_range = age_range
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.built = True

    # --- Units ---

    def adapt(self, vectors: np.ndarray, margin: float = 1.05) -> None:
        """Sets the normalization from data: per parameter, the mean and `margin` x the largest |x - mean|.

        Every training vector then lies inside tanh's range.
        """
        vectors = np.asarray(vectors, np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.num_parameters or len(vectors) < 2:
            raise ValueError(
                f"`vectors` must be [n >= 2, {self.num_parameters}]. Received shape {list(vectors.shape)}"
            )
        mean = vectors.mean(axis=0)
        scale = np.maximum(np.abs(vectors - mean).max(axis=0) * margin, 1e-6)
        self.data_mean.assign(mean)
        self.data_scale.assign(scale)

    def normalize(self, vectors):
        return (ops.convert_to_tensor(vectors, "float32") - self.data_mean) / self.data_scale

    def denormalize(self, normalized):
        return ops.convert_to_tensor(normalized, "float32") * self.data_scale + self.data_mean

    def encode_labels(self, ages, sexes) -> np.ndarray:
        """`[B, 2]` labels in [-1, 1] from ages (years) and sexes (0 female, 1 male)."""
        ages = np.asarray(ages, np.float32).reshape(-1)
        sexes = np.asarray(sexes, np.float32).reshape(-1)
        if ages.shape != sexes.shape:
            raise ValueError(
                f"`ages` and `sexes` must have the same length. Received {len(ages)} and {len(sexes)}"
            )
        low, high = self.age_range
        return np.stack([2.0 * (ages - low) / (high - low) - 1.0, 2.0 * sexes - 1.0], axis=1)

    # --- Generation ---

    def call(self, inputs, training=False):
        latent, labels = inputs
        return self.denormalize(self.generator([latent, labels], training=training))

    def generate(self, ages, sexes, seed: int | list[int] | None = None, latent=None) -> np.ndarray:
        """`[B, m]` vectors in data units for B (age, sex) pairs; Z ~ N(0, 1) from `seed` unless given."""
        labels = self.encode_labels(ages, sexes)
        if latent is None:
            latent = np.random.default_rng(seed).normal(size=(len(labels), self.latent_dim))
        latent = np.asarray(latent, np.float32)
        return np.asarray(self([latent, labels], training=False), np.float32)

    # --- Training ---

    def compile(self, generator_optimizer=None, discriminator_optimizer=None, **kwargs) -> None:
        """Adam(2e-4, beta_1=0.5) for both networks unless given."""
        super().compile(**kwargs)
        self.generator_optimizer = generator_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        self.discriminator_optimizer = discriminator_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)

    def get_compile_config(self):
        return None  # the optimizers are rebuilt by `compile()`; nothing to restore

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def make_dataset(self, vectors, ages, sexes, batch_size: int = 64, seed: int = 0) -> tf.data.Dataset:
        """Shuffled, repeated (normalized vectors, labels) batches for `fit`."""
        normalized = np.asarray(self.normalize(vectors), np.float32)
        labels = self.encode_labels(ages, sexes).astype(np.float32)
        dataset = tf.data.Dataset.from_tensor_slices((normalized, labels))
        dataset = dataset.shuffle(len(normalized), seed=seed, reshuffle_each_iteration=True).repeat()
        return dataset.batch(min(batch_size, len(normalized)), drop_remainder=True).prefetch(2)

    def train_step(self, data):
        """One step on D (5.1a), then one on G (5.1b); `data` is (normalized vectors, labels)."""
        real, labels = data
        batch = ops.shape(real)[0]
        latent = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            fake = self.generator([latent, labels], training=True)
            real_logits = self.discriminator([real, labels], training=True)
            fake_logits = self.discriminator([fake, labels], training=True)
            d_loss = discriminator_loss(real_logits, fake_logits)
        weights = self.discriminator.trainable_weights
        self.discriminator_optimizer.apply_gradients(
            zip(tape.gradient(d_loss, weights), weights, strict=True)
        )

        latent = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            fake = self.generator([latent, labels], training=True)
            g_loss = generator_loss(self.discriminator([fake, labels], training=True))
        weights = self.generator.trainable_weights
        self.generator_optimizer.apply_gradients(zip(tape.gradient(g_loss, weights), weights, strict=True))

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}

    # --- Config ---

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "num_parameters": self.num_parameters,
            "latent_dim": self.latent_dim,
            "generator_units": list(self.generator.hidden_units),
            "discriminator_units": list(self.discriminator.hidden_units),
            "generator_dropout": self.generator.dropout,
            "discriminator_dropout": self.discriminator.dropout,
            "input_noise": self.discriminator.input_noise,
            "leaky_slope": self.generator.leaky_slope,
            "age_range": list(self.age_range),
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config: dict) -> ConditionalGAN:
        return cls(**config)


def build_cgan(variant: str, num_parameters: int, **overrides) -> ConditionalGAN:
    """The thesis's `cvgan1` or `cvgan2` for m parameters; `overrides` replace preset arguments.

    Raises:
        ValueError: for an unknown variant or invalid hyperparameters.
    """
    if variant not in CGAN_PRESETS:
        raise ValueError(f"Unknown CGAN variant {variant!r}. Choose one of: {', '.join(CGAN_PRESETS)}.")
    return ConditionalGAN(num_parameters, **{"name": variant, **CGAN_PRESETS[variant], **overrides})
