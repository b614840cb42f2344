"""Build-only backbone tests: published parameter counts, config round trips, validation, blocks."""

import keras
import numpy as np
import pytest

from headsynth.core.errors import ConfigError
from headsynth.models.backbones import (
    BACKBONES,
    ResNetBackbone,
    SmallConvBackbone,
    build_backbone,
    set_trainable_from_block,
)

IMAGENET_CLASSES = 1000


def count_with_classifier(backbone: keras.Model, counts_moving_statistics: bool) -> int:
    """Parameters of backbone + a 1000-class dense layer, counted the way the source publishes them."""
    features = int(backbone.output_shape[-1])
    classifier = features * IMAGENET_CLASSES + IMAGENET_CLASSES
    if counts_moving_statistics:
        return backbone.count_params() + classifier
    # torchvision counts BatchNorm's running mean/variance as buffers, not parameters.
    trainable = sum(int(np.prod(w.shape)) for w in backbone.trainable_weights)
    return trainable + classifier


@pytest.mark.parametrize(
    "name, published",
    [("resnet50", 25_636_712), ("resnet50_v1_5", 25_557_032), ("wide_resnet50_2", 68_883_240)],
)
def test_parameter_count_matches_published_figure(name, published):
    preset = BACKBONES[name]
    assert preset.published_parameters == published
    backbone = build_backbone(name, 224)
    assert backbone.output_shape == (None, 2048)
    assert count_with_classifier(backbone, preset.published_counts_moving_statistics) == published


def test_resnet50_matches_keras_applications_layer_for_layer():
    ours = build_backbone("resnet50", 224)
    reference = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(224, 224, 3))
    assert ours.count_params() == reference.count_params() == 23_587_712
    ours_weights = [(layer.name, [w.shape for w in layer.weights]) for layer in ours.layers if layer.weights]
    ref_weights = [
        (layer.name, [w.shape for w in layer.weights]) for layer in reference.layers if layer.weights
    ]
    assert ours_weights == ref_weights  # same names and shapes: Keras' ImageNet file loads by name


def small_conv_count(stage_filters, convs_per_stage):
    """Independent count: 3x3 convs without bias, BatchNorm with 4 values per channel."""
    total, channels = 0, 3
    for filters in stage_filters:
        for _ in range(convs_per_stage):
            total += 9 * channels * filters + 4 * filters
            channels = filters
    return total


@pytest.mark.parametrize(
    "name, stage_filters, convs", [("tiny_cnn", (16, 32, 64), 1), ("small_cnn", (32, 64, 128, 192), 2)]
)
def test_small_backbone_counts(name, stage_filters, convs):
    backbone = build_backbone(name, 64)
    assert backbone.count_params() == small_conv_count(stage_filters, convs)
    assert backbone.output_shape == (None, stage_filters[-1])
    assert BACKBONES[name].published_parameters is None


TINY_RESNET = dict(
    stackwise_num_blocks=[1, 2],
    stackwise_num_filters=[8, 16],
    width_multiplier=2,
    stride_in_3x3=True,
    use_conv_bias=False,
    batch_norm_epsilon=1e-5,
    image_size=32,
)


@pytest.mark.parametrize(
    "cls, kwargs",
    [
        (SmallConvBackbone, dict(stage_filters=[8, 16], convs_per_stage=1, image_size=32, dropout=0.1)),
        (ResNetBackbone, TINY_RESNET),
    ],
)
def test_config_round_trip_and_saving(tmp_path, cls, kwargs):
    backbone = cls(**kwargs, name="backbone")
    clone = cls.from_config(backbone.get_config())
    assert clone.get_config() == backbone.get_config()
    assert clone.count_params() == backbone.count_params()
    images = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    path = tmp_path / "backbone.keras"
    backbone.save(path)
    restored = keras.models.load_model(path)
    assert isinstance(restored, cls)
    np.testing.assert_allclose(
        restored.predict(images, verbose=0), backbone.predict(images, verbose=0), atol=1e-5
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(stackwise_num_blocks=[3, 0]), "Received: stackwise_num_blocks=\\[3, 0\\]"),
        (dict(stackwise_num_blocks=[1, 1], stackwise_num_filters=[8]), "same length"),
        (dict(width_multiplier=0), "Received: width_multiplier=0"),
        (dict(stride_in_3x3="yes"), "Received: stride_in_3x3=yes"),
        (dict(batch_norm_epsilon=0.0), "Received: batch_norm_epsilon=0.0"),
        (dict(image_size=16), "Received: image_size=16"),
    ],
)
def test_resnet_validates_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ResNetBackbone(**kwargs)


def test_small_cnn_validates_hyperparameters():
    with pytest.raises(ValueError, match="Received: convs_per_stage=0"):
        SmallConvBackbone(convs_per_stage=0)
    with pytest.raises(ValueError, match="Received: dropout=1.0"):
        SmallConvBackbone(dropout=1.0)
    with pytest.raises(ConfigError, match="Unknown backbone 'resnet51'"):
        build_backbone("resnet51", 224)


def test_blocks_and_training_from_block():
    backbone = ResNetBackbone(**TINY_RESNET)
    assert backbone.block_names == ["conv1", "conv2_block1", "conv3_block1", "conv3_block2"]
    set_trainable_from_block(backbone, 2)
    trainable = {layer.name for layer in backbone.layers if layer.trainable and layer.weights}
    frozen = {layer.name for layer in backbone.layers if not layer.trainable and layer.weights}
    assert all(name.startswith("conv3_") for name in trainable)
    assert all(name.startswith(("conv1_", "conv2_")) for name in frozen) and frozen
    with pytest.raises(ValueError, match="between 1 and 3 .*Received: first_trained_block=4"):
        set_trainable_from_block(backbone, 4)
