"""The parameter regressor: mean-image subtraction, a backbone, and a thin head."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="headsynth")
class MeanImageSubtraction(keras.layers.Layer):
    """Subtracts a fixed mean image (the paper subtracts ResNet-50's).

    Args:
        image_size: side of the square mean image.
        mean_image: optional `[H, W, 3]` initial value (float, 0..255 scale).
    """

    def __init__(self, image_size: int, mean_image=None, **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(image_size, int) or image_size < 1:
            raise ValueError(f"`image_size` must be a positive integer. Received: image_size={image_size}")
        self.image_size = image_size
        initial = (
            np.full((image_size, image_size, 3), 127.5, np.float32)
            if mean_image is None
            else np.asarray(mean_image, np.float32)
        )
        self.mean_image = self.add_weight(
            name="mean_image",
            shape=(image_size, image_size, 3),
            initializer=keras.initializers.Constant(initial),
            trainable=False,
        )

    def call(self, images):
        return (ops.cast(images, "float32") - self.mean_image) / 64.0

    def get_config(self) -> dict:
        return {**super().get_config(), "image_size": self.image_size}


@keras.saving.register_keras_serializable(package="headsynth")
def squared_euclidean_loss(y_true, y_pred):
    """The paper's loss: squared euclidean distance between q and its estimate, per example."""
    return ops.sum(ops.square(y_pred - y_true), axis=-1)


@keras.saving.register_keras_serializable(package="headsynth")
class ParameterRegressor(keras.Model):
    """Image -> unscaled parameters q.

    Args:
        backbone: a backbone model mapping images to pooled features.
        num_parameters: output width m (from the face model).
        head: "linear" (the paper: one dense layer, m linear outputs) or
            "mlp" (the thesis: 3 x 200 leaky-ReLU dense layers and a tanh output).
        image_size: input side in pixels.
    """

    def __init__(
        self, backbone: keras.Model, num_parameters: int, head: str = "linear", image_size: int = 64, **kwargs
    ):
        if not isinstance(num_parameters, int) or num_parameters < 1:
            raise ValueError(
                f"`num_parameters` must be a positive integer. Received: num_parameters={num_parameters}"
            )
        if head not in ("linear", "mlp"):
            raise ValueError(f"`head` must be 'linear' or 'mlp'. Received: head={head!r}")
        images = keras.Input(shape=(image_size, image_size, 3), name="images")
        x = MeanImageSubtraction(image_size, name="mean_image")(images)
        x = backbone(x)
        if head == "mlp":
            for i in range(3):
                x = keras.layers.Dense(200, name=f"head_dense{i}")(x)
                x = keras.layers.LeakyReLU(negative_slope=0.01, name=f"head_leaky_relu{i}")(x)
            outputs = keras.layers.Dense(num_parameters, activation="tanh", name="q")(x)
        else:
            outputs = keras.layers.Dense(num_parameters, name="q")(x)
        super().__init__(inputs=images, outputs=outputs, **kwargs)
        self.backbone = backbone
        self.num_parameters = num_parameters
        self.head = head
        self.image_size = image_size

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "num_parameters": self.num_parameters,
            "head": self.head,
            "image_size": self.image_size,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)
