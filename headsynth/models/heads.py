"""Regression heads: pooled backbone features -> the m parameters q.

HEADS:
    linear: the paper's; ResNet-50's classifier replaced by one dense layer
        with m linear outputs.
    mlp: the thesis's; 3 dense layers of 200 units with leaky ReLU, then a
        dense layer with m tanh outputs.

The "mlp" head standardises its input features first (`FeatureStandardization`,
per-feature mean and standard deviation of the training set, set when a
frozen stem's features are cached; the identity otherwise): a frozen stem's
features come on scales of their own (the face mesh's 6x6 map, its landmarks
in 0..1, colours), and unscaled they saturated the tanh output from the
first step, so nothing trained.

A head's output is multiplied by a fixed `output_scale` (the `OutputScale`
layer, present when it is not 1): tanh reaches (-1, 1) only, and the
thesis's samplers draw q far outside (U(-4, 4), N(0, 1.5)); with the scale
set to the sampler's range the head reaches every target, and the model's
predictions are q in the model's units.
"""

from __future__ import annotations

import math

import keras
import numpy as np

HEADS = ("linear", "mlp")
MLP_UNITS = 200
MLP_LAYERS = 3
# The thesis does not give the slope; its stem is torchvision's, whose LeakyReLU default is 0.01.
LEAKY_RELU_SLOPE = 0.01


@keras.saving.register_keras_serializable(package="headsynth")
class OutputScale(keras.layers.Layer):
    """x * scale, a fixed hyperparameter (saved in the layer's config, not trained).

    Args:
        scale: a positive finite factor.
    """

    def __init__(self, scale: float, **kwargs) -> None:
        super().__init__(**kwargs)
        check_output_scale(scale)
        self.scale = float(scale)

    def call(self, inputs):
        return inputs * self.scale

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package="headsynth")
class FeatureStandardization(keras.layers.Layer):
    """(x - mean) / std per feature, with mean and std fixed weights (saved, not trained); starts as identity.

    Args:
        num_features: F, the width of `[B, F]` inputs.
    """

    def __init__(self, num_features: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_features = int(num_features)
        self.mean = self.add_weight(
            shape=(self.num_features,), initializer="zeros", trainable=False, name="mean"
        )
        self.inverse_std = self.add_weight(
            shape=(self.num_features,), initializer="ones", trainable=False, name="inverse_std"
        )

    def set_statistics(self, features) -> None:
        """Sets mean and std from `[N, F]` training features (constant features keep a std of 1)."""
        features = np.asarray(features, np.float64)
        std = features.std(axis=0)
        self.mean.assign(features.mean(axis=0).astype(np.float32))
        self.inverse_std.assign(np.where(std > 1e-6, 1.0 / np.maximum(std, 1e-6), 1.0).astype(np.float32))

    def call(self, inputs):
        return (inputs - self.mean) * self.inverse_std

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "num_features": self.num_features}


def check_output_scale(scale: float) -> None:
    """ValueError unless `scale` is a positive finite number."""
    if (
        isinstance(scale, bool)
        or not isinstance(scale, int | float)
        or not math.isfinite(scale)
        or scale <= 0
    ):
        raise ValueError(f"`output_scale` must be a positive finite number. Received: output_scale={scale!r}")


def build_head(
    kind: str, num_features: int, num_parameters: int, name: str = "head", output_scale: float = 1.0
) -> keras.Model:
    """A functional head model `[B, num_features] -> [B, num_parameters]`.

    It is a model of its own so that a frozen stem's cached features can
    train exactly these layers.

    Args:
        kind: one of `HEADS`.
        num_features: width of the backbone's pooled features.
        num_parameters: output width m (from the face model).
        name: the head model's name.
        output_scale: factor on the output (the "mlp" head reaches (-output_scale, output_scale));
            at 1 no layer is added.

    Raises:
        ValueError: for an unknown kind, non-positive widths or a non-positive scale.
    """
    if kind not in HEADS:
        raise ValueError(f"`head` must be one of {', '.join(HEADS)}. Received: head={kind!r}")
    for key, value in (("num_features", num_features), ("num_parameters", num_parameters)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"`{key}` must be a positive integer. Received: {key}={value}")
    features = keras.Input(shape=(num_features,), name="features")
    x = features
    if kind == "mlp":
        x = FeatureStandardization(num_features, name="feature_standardization")(x)
        for i in range(MLP_LAYERS):
            x = keras.layers.Dense(MLP_UNITS, name=f"head_dense{i}")(x)
            x = keras.layers.LeakyReLU(negative_slope=LEAKY_RELU_SLOPE, name=f"head_leaky_relu{i}")(x)
        q = keras.layers.Dense(num_parameters, activation="tanh", name="q")(x)
    else:
        q = keras.layers.Dense(num_parameters, name="q")(x)
    check_output_scale(output_scale)
    if output_scale != 1.0:
        q = OutputScale(output_scale, name="output_scale")(q)
    return keras.Model(features, q, name=name)
