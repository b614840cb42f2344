"""Heads, preprocessing, stem modes, the regressor's config, and the in-graph mesh decoder."""

import keras
import numpy as np
import pytest

from headsynth.models.backbones import build_backbone
from headsynth.models.heads import build_head
from headsynth.models.mesh import MorphableMeshDecoder
from headsynth.models.regressor import MeanImageSubtraction, ParameterRegressor, configure_stem


def test_paper_head_is_one_linear_dense_layer():
    head = build_head("linear", 2048, 36)
    dense = [layer for layer in head.layers if isinstance(layer, keras.layers.Dense)]
    assert len(dense) == 1 and dense[0].activation is keras.activations.linear
    assert head.count_params() == 2048 * 36 + 36


def test_thesis_head_is_three_leaky_relu_layers_and_tanh():
    head = build_head("mlp", 2048, 100)
    dense = [layer for layer in head.layers if isinstance(layer, keras.layers.Dense)]
    assert [d.units for d in dense] == [200, 200, 200, 100]
    assert dense[-1].activation is keras.activations.tanh
    assert sum(isinstance(layer, keras.layers.LeakyReLU) for layer in head.layers) == 3
    trained = (2048 * 200 + 200) + 2 * (200 * 200 + 200) + (200 * 100 + 100)
    assert sum(int(np.prod(w.shape)) for w in head.trainable_weights) == trained
    assert head.count_params() == trained + 2 * 2048  # the features' fixed mean and 1/std
    out = head.predict(np.random.default_rng(0).normal(0, 100, (4, 2048)).astype(np.float32), verbose=0)
    assert np.all(np.abs(out) <= 1.0)
    with pytest.raises(ValueError, match="Received: head='conv'"):
        build_head("conv", 8, 2)


def test_mean_image_subtraction_flips_to_bgr_and_scales():
    layer = MeanImageSubtraction(
        2, mean_image=np.full((2, 2, 3), [1.0, 2.0, 3.0]), channel_order="bgr", scale=[1, 2, 4]
    )
    images = np.zeros((1, 2, 2, 3), np.float32) + np.array([10.0, 20.0, 30.0], np.float32)
    out = np.asarray(layer(images))
    np.testing.assert_allclose(out[0, 0, 0], [(30 - 1) * 1, (20 - 2) * 2, (10 - 3) * 4])
    assert MeanImageSubtraction.from_config(layer.get_config()).scale == [1.0, 2.0, 4.0]
    with pytest.raises(ValueError, match="Received: channel_order='hsv'"):
        MeanImageSubtraction(2, channel_order="hsv")


def test_regressor_round_trips_through_keras_file(tmp_path):
    model = ParameterRegressor(build_backbone("tiny_cnn", 32), 6, "mlp", 32, name="regressor")
    path = tmp_path / "regressor.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(
        restored.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6
    )
    assert restored.head == "mlp" and restored.head_model.output_shape == (None, 6)


def test_stem_modes():
    model = ParameterRegressor(build_backbone("small_cnn", 32), 4, "linear", 32)
    configure_stem(model, "frozen")
    assert not model.backbone.trainable_weights and model.head_model.trainable_weights
    configure_stem(model, "from_block", 2)
    names = {layer.name for layer in model.backbone.layers if layer.trainable_weights}
    assert names == {f"stage{s}_{kind}{i}" for s in (2, 3) for kind in ("conv", "bn") for i in (0, 1)}
    configure_stem(model, "trained")
    assert len(model.backbone.trainable_weights) == len(build_backbone("small_cnn", 32).trainable_weights)
    with pytest.raises(ValueError, match="Received: stem_mode='half'"):
        configure_stem(model, "half")
    with pytest.raises(ValueError, match="Received: first_trained_block=9"):
        configure_stem(model, "from_block", 9)


def test_mesh_decoder_matches_the_numpy_model(small_model):
    q = np.random.default_rng(0).uniform(-1, 1, (3, small_model.num_parameters)).astype(np.float32)
    vertices, colors = MorphableMeshDecoder(small_model, 1.6)(q)
    np.testing.assert_allclose(np.asarray(vertices), small_model.vertices(q, 1.6), rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(np.asarray(colors), small_model.colors(q, 1.6), atol=1e-5)


def test_mlp_head_standardises_its_features_once_set_and_saves_them(tmp_path):
    from headsynth.models.heads import FeatureStandardization

    head = build_head("mlp", 3, 2)
    layer = head.get_layer("feature_standardization")
    assert isinstance(layer, FeatureStandardization)
    features = np.array([[0.0, 100.0, 5.0], [2.0, 300.0, 5.0], [4.0, 200.0, 5.0]], np.float32)
    np.testing.assert_allclose(layer(features), features)  # the identity until statistics are set
    layer.set_statistics(features)
    standardised = np.asarray(layer(features))
    np.testing.assert_allclose(standardised[:, :2].mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(standardised[:, :2].std(0), 1, atol=1e-5)
    np.testing.assert_allclose(standardised[:, 2], 0)  # a constant feature keeps std 1
    assert not layer.trainable_weights
    head.save(tmp_path / "head.keras")
    restored = keras.models.load_model(tmp_path / "head.keras")
    np.testing.assert_allclose(restored(features), head(features), atol=1e-6)
    assert "feature_standardization" not in [layer.name for layer in build_head("linear", 3, 2).layers]
