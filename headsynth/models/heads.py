"""Regression heads: pooled backbone features -> the m parameters q.

HEADS:
    linear: the paper's; ResNet-50's classifier replaced by one dense layer
        with m linear outputs.
    mlp: the thesis's; 3 dense layers of 200 units with leaky ReLU, then a
        dense layer with m tanh outputs (q lies in [-1, 1] for its samplers).
"""

from __future__ import annotations

import keras

HEADS = ("linear", "mlp")
MLP_UNITS = 200
MLP_LAYERS = 3
# The thesis does not give the slope; its stem is torchvision's, whose LeakyReLU default is 0.01.
LEAKY_RELU_SLOPE = 0.01


def build_head(kind: str, num_features: int, num_parameters: int, name: str = "head") -> keras.Model:
    """A functional head model `[B, num_features] -> [B, num_parameters]`.

    It is a model of its own so that a frozen stem's cached features can
    train exactly these layers.

    Args:
        kind: one of `HEADS`.
        num_features: width of the backbone's pooled features.
        num_parameters: output width m (from the face model).
        name: the head model's name.

    Raises:
        ValueError: for an unknown kind or non-positive widths.
    """
    if kind not in HEADS:
        raise ValueError(f"`head` must be one of {', '.join(HEADS)}. Received: head={kind!r}")
    for key, value in (("num_features", num_features), ("num_parameters", num_parameters)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"`{key}` must be a positive integer. Received: {key}={value}")
    features = keras.Input(shape=(num_features,), name="features")
    x = features
    if kind == "mlp":
        for i in range(MLP_LAYERS):
            x = keras.layers.Dense(MLP_UNITS, name=f"head_dense{i}")(x)
            x = keras.layers.LeakyReLU(negative_slope=LEAKY_RELU_SLOPE, name=f"head_leaky_relu{i}")(x)
        q = keras.layers.Dense(num_parameters, activation="tanh", name="q")(x)
    else:
        q = keras.layers.Dense(num_parameters, name="q")(x)
    return keras.Model(features, q, name=name)
