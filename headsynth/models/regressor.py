"""The parameter regressor: image preprocessing, a backbone (the stem), and a head."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from headsynth.models.backbones import set_trainable_from_block
from headsynth.models.heads import build_head

STEM_MODES = ("trained", "frozen", "from_block")
DEFAULT_INPUT_SCALE = (1.0 / 64.0,) * 3


@keras.saving.register_keras_serializable(package="headsynth")
class MeanImageSubtraction(keras.layers.Layer):
    """(image[channel_order] - mean image) * scale: the paper subtracts its network's mean image.

    Args:
        image_size: side of the square mean image.
        mean_image: optional `[H, W, 3]` initial value (float, 0..255 scale,
            in `channel_order`); the trainer sets it from data or from the
            pretrained weights' mean.
        channel_order: "rgb", or "bgr" to flip RGB inputs (Caffe weights).
        scale: per-channel factor applied after the subtraction.
    """

    def __init__(
        self,
        image_size: int,
        mean_image=None,
        channel_order: str = "rgb",
        scale: tuple[float, float, float] | list[float] = DEFAULT_INPUT_SCALE,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(image_size, int) or image_size < 1:
            raise ValueError(f"`image_size` must be a positive integer. Received: image_size={image_size}")
        if channel_order not in ("rgb", "bgr"):
            raise ValueError(
                f"`channel_order` must be 'rgb' or 'bgr'. Received: channel_order={channel_order!r}"
            )
        scale = [float(s) for s in scale]
        if len(scale) != 3 or any(s <= 0 for s in scale):
            raise ValueError(f"`scale` must be 3 positive numbers. Received: scale={scale}")
        self.image_size = image_size
        self.channel_order = channel_order
        self.scale = scale
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
        images = ops.cast(images, "float32")
        if self.channel_order == "bgr":
            images = ops.flip(images, axis=-1)
        return (images - self.mean_image) * ops.convert_to_tensor(self.scale, "float32")

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "image_size": self.image_size,
            "channel_order": self.channel_order,
            "scale": list(self.scale),
        }


@keras.saving.register_keras_serializable(package="headsynth")
def squared_euclidean_loss(y_true, y_pred):
    """The paper's loss: squared euclidean distance between q and its estimate, per example."""
    return ops.sum(ops.square(y_pred - y_true), axis=-1)


@keras.saving.register_keras_serializable(package="headsynth")
class ParameterRegressor(keras.Model):
    """Image -> unscaled parameters q.

    Layers: `mean_image` (MeanImageSubtraction), the backbone (the stem,
    under its own name), and `head` (a model of its own, see `heads.py`).

    Args:
        backbone: a backbone model mapping images to pooled features.
        num_parameters: output width m (from the face model).
        head: "linear" (the paper: one dense layer, m linear outputs) or
            "mlp" (the thesis: 3 x 200 leaky-ReLU dense layers and a tanh output).
        image_size: input side in pixels.
        channel_order: "rgb", or "bgr" for Caffe-trained stems.
        input_scale: per-channel factor after mean subtraction.
        output_scale: factor on the head's output (`heads.OutputScale`), so a
            tanh head reaches the sampler's range; saved in the config, so the
            Keras file and the exported SavedModel predict q in the model's units.
    """

    def __init__(
        self,
        backbone: keras.Model,
        num_parameters: int,
        head: str = "linear",
        image_size: int = 64,
        channel_order: str = "rgb",
        input_scale: tuple[float, float, float] | list[float] = DEFAULT_INPUT_SCALE,
        output_scale: float = 1.0,
        **kwargs,
    ):
        if not isinstance(num_parameters, int) or num_parameters < 1:
            raise ValueError(
                f"`num_parameters` must be a positive integer. Received: num_parameters={num_parameters}"
            )
        head_model = build_head(
            head, int(backbone.output_shape[-1]), num_parameters, output_scale=output_scale
        )
        preprocess = MeanImageSubtraction(
            image_size, channel_order=channel_order, scale=input_scale, name="mean_image"
        )
        images = keras.Input(shape=(image_size, image_size, 3), name="images")
        q = head_model(backbone(preprocess(images)))
        super().__init__(inputs=images, outputs=q, **kwargs)
        self.backbone = backbone
        self.head_model = head_model
        self.preprocess = preprocess
        self.num_parameters = num_parameters
        self.head = head
        self.image_size = image_size
        self.channel_order = channel_order
        self.input_scale = list(preprocess.scale)
        self.output_scale = float(output_scale)

    def stem_features(self, images, training: bool = False):
        """`[B, S, S, 3]` 0..255 images -> `[B, F]` features the head takes."""
        return self.backbone(self.preprocess(images), training=training)

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "num_parameters": self.num_parameters,
            "head": self.head,
            "image_size": self.image_size,
            "channel_order": self.channel_order,
            "input_scale": list(self.input_scale),
            "output_scale": self.output_scale,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)


def configure_stem(regressor: ParameterRegressor, mode: str, first_trained_block: int = 1) -> None:
    """Sets which stem layers train; call before `compile`.

    Args:
        regressor: the model.
        mode: "trained" (everything trains), "frozen" (only the head trains;
            the stem's BatchNormalization runs in inference mode), or
            "from_block" (blocks `first_trained_block` .. last train; block 0
            is the input stem).
        first_trained_block: used with "from_block".

    Raises:
        ValueError: for an unknown mode or a block index the backbone lacks.
    """
    if mode not in STEM_MODES:
        raise ValueError(f"`stem_mode` must be one of {', '.join(STEM_MODES)}. Received: stem_mode={mode!r}")
    backbone = regressor.backbone
    if mode == "trained":
        backbone.trainable = True
        for layer in backbone.layers:
            layer.trainable = True
    elif mode == "frozen":
        backbone.trainable = False
    else:
        set_trainable_from_block(backbone, first_trained_block)
    regressor.head_model.trainable = True
