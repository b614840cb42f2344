"""The conditional GAN: the thesis's layer tables, losses, one training step, conditioning, config and saving."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from headsynth.models.cgan import (
    CGAN_PRESETS,
    ConditionalDiscriminator,
    ConditionalGAN,
    ConditionalGenerator,
    build_cgan,
    discriminator_loss,
    generator_loss,
)

M = 12


def dense_units(model) -> list[int]:
    return [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def layer_count(model, kind) -> int:
    return sum(isinstance(layer, kind) for layer in model.layers)


@pytest.mark.parametrize(
    "variant, hidden, generator_dropouts, noise",
    [("cvgan1", [2000, 1000, 500], 3, False), ("cvgan2", [500, 500], 0, True)],
)
def test_layers_follow_tables_5_2_and_5_3(variant, hidden, generator_dropouts, noise):
    gan = build_cgan(variant, 100)
    generator, discriminator = gan.generator, gan.discriminator
    assert dense_units(generator) == [*hidden, 100]
    assert dense_units(discriminator) == [*hidden, 1]
    assert generator.layers[-1].activation is keras.activations.tanh
    assert layer_count(generator, keras.layers.LeakyReLU) == len(hidden)
    assert layer_count(generator, keras.layers.Dropout) == generator_dropouts
    assert layer_count(discriminator, keras.layers.Dropout) == len(hidden)  # D always has 50% dropout
    assert layer_count(discriminator, keras.layers.GaussianNoise) == int(noise)
    # Z is 20 values + 2 labels (Table 5.2's 22 inputs); D sees 100 parameters + 2 labels.
    widths = [22, *hidden, 100]
    assert generator.count_params() == sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=True))
    widths = [102, *hidden, 1]
    assert discriminator.count_params() == sum(
        a * b + b for a, b in zip(widths[:-1], widths[1:], strict=True)
    )


def test_constructors_validate_their_arguments():
    with pytest.raises(ValueError, match="Received: num_parameters=0"):
        ConditionalGenerator(0)
    with pytest.raises(ValueError, match="Received: hidden_units=\\[\\]"):
        ConditionalDiscriminator(4, hidden_units=[])
    with pytest.raises(ValueError, match="Received: dropout=1.5"):
        ConditionalDiscriminator(4, dropout=1.5)
    with pytest.raises(ValueError, match="Received: input_noise=-0.1"):
        ConditionalDiscriminator(4, input_noise=-0.1)
    with pytest.raises(ValueError, match="Received: age_range"):
        ConditionalGAN(4, age_range=(80, 18))
    with pytest.raises(ValueError, match="Unknown CGAN variant 'cvgan3'"):
        build_cgan("cvgan3", 4)
    assert set(CGAN_PRESETS) == {"cvgan1", "cvgan2"}


def test_losses_are_5_1a_and_5_1b():
    real = np.array([[2.0], [-1.0]], np.float32)
    fake = np.array([[0.5], [-3.0]], np.float32)
    sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    expected_d = np.mean(-np.log(sigmoid(real))) + np.mean(-np.log(1 - sigmoid(fake)))
    expected_g = np.mean(-np.log(sigmoid(fake)))
    assert float(discriminator_loss(real, fake)) == pytest.approx(expected_d, rel=1e-5)
    assert float(generator_loss(fake)) == pytest.approx(expected_g, rel=1e-5)


@pytest.fixture(scope="module")
def labelled_data():
    rng = np.random.default_rng(0)
    sexes = (rng.uniform(size=256) < 0.5).astype(np.float64)
    ages = rng.uniform(18, 80, size=256)
    vectors = rng.normal(size=(256, M)) + 2.0 * sexes[:, None] + ((ages[:, None] - 49) / 31)
    return vectors.astype(np.float32), ages, sexes


def test_one_training_step_updates_both_networks(labelled_data):
    vectors, ages, sexes = labelled_data
    gan = build_cgan("cvgan2", M, seed=0)
    gan.adapt(vectors)
    gan.compile()
    before_g = [w.numpy().copy() for w in gan.generator.trainable_weights]
    before_d = [w.numpy().copy() for w in gan.discriminator.trainable_weights]
    history = gan.fit(
        gan.make_dataset(vectors, ages, sexes, batch_size=32), steps_per_epoch=1, epochs=1, verbose=0
    )
    assert set(history.history) == {"d_loss", "g_loss"}
    assert all(np.isfinite(v[0]) for v in history.history.values())
    assert history.history["d_loss"][0] == pytest.approx(2 * np.log(2), abs=0.5)  # D starts at chance
    assert any(
        not np.allclose(a, b.numpy()) for a, b in zip(before_g, gan.generator.trainable_weights, strict=True)
    )
    assert any(
        not np.allclose(a, b.numpy())
        for a, b in zip(before_d, gan.discriminator.trainable_weights, strict=True)
    )


def test_output_depends_on_age_and_sex_and_is_in_data_units(labelled_data):
    vectors, _, _ = labelled_data
    gan = build_cgan("cvgan2", M, seed=0)
    gan.adapt(vectors)
    latent = np.random.default_rng(3).normal(size=(1, gan.latent_dim)).repeat(4, axis=0)
    out = gan.generate(ages=[20, 70, 20, 70], sexes=[0, 0, 1, 1], latent=latent)
    assert out.shape == (4, M)
    assert not np.allclose(out[0], out[1]) and not np.allclose(out[0], out[2])
    # The same inputs give the same output (up to float rounding, which depends on the batch size).
    np.testing.assert_allclose(gan.generate([20], [0], latent=latent[:1]), out[:1], atol=1e-5)
    # Every output lies in the data's range (tanh maps into mean +- scale, scale >= max |x - mean|).
    mean, scale = gan.data_mean.numpy(), gan.data_scale.numpy()
    assert np.all(np.abs(out - mean) <= scale + 1e-5)
    assert np.all(scale >= np.abs(vectors - vectors.mean(axis=0)).max(axis=0))
    np.testing.assert_allclose(
        gan.encode_labels([18, 80, 49], [0, 1, 1]), [[-1, -1], [1, 1], [0, 1]], atol=1e-6
    )


def test_config_round_trip_and_keras_file(tmp_path, labelled_data):
    vectors, _, _ = labelled_data
    gan = build_cgan("cvgan1", M, latent_dim=8, seed=4, generator_units=(64, 32), discriminator_units=(32,))
    gan.adapt(vectors)
    config = gan.get_config()
    assert config["generator_units"] == [64, 32] and config["discriminator_units"] == [32]
    assert config["generator_dropout"] == 0.5 and config["input_noise"] == 0.0
    clone = ConditionalGAN.from_config(config)
    assert clone.get_config() == config
    path = tmp_path / "gan.keras"
    gan.save(path)
    restored = keras.models.load_model(path, compile=False)
    assert isinstance(restored, ConditionalGAN) and restored.get_config() == config
    np.testing.assert_allclose(
        restored.generate([30, 60], [1, 0], seed=5), gan.generate([30, 60], [1, 0], seed=5), atol=1e-6
    )
