"""Bottleneck ResNet backbones: ResNet-50 v1 / v1.5 and WideResNet-50-2 (`width_multiplier=2`)."""

from __future__ import annotations

import keras

from headsynth.models.backbones.checks import check_image_size, check_positive_int, check_positive_ints


@keras.saving.register_keras_serializable(package="headsynth")
class ResNetBackbone(keras.Model):
    """A bottleneck ResNet (ResNet-50 v1 / v1.5, WideResNet-50-2) without its classifier.

    Maps `[B, image_size, image_size, 3]` images to `[B, 4 * stackwise_num_filters[-1]]`
    pooled features. Layer names follow `keras.applications.ResNet50`
    (`conv1_conv`, `conv2_block1_1_conv`, ..., `avg_pool`) so Keras' ImageNet
    file loads by name, and map one-to-one onto torchvision's `layerS.B.convK` keys.

    Args:
        stackwise_num_blocks: bottleneck blocks per stage (ResNet-50: 3, 4, 6, 3).
        stackwise_num_filters: base filters per stage; a block's output has 4x.
        width_multiplier: the inner 1x1/3x3 convolutions have
            `width_multiplier` x base filters (1 for ResNet, 2 for WRN-50-2).
        stride_in_3x3: put a stage's stride on the 3x3 convolution (v1.5,
            torchvision) instead of the first 1x1 (v1, Caffe and Keras).
        use_conv_bias: give convolutions a bias (Keras' ResNet50 does,
            torchvision's do not).
        batch_norm_epsilon: BatchNormalization epsilon.
        image_size: input side in pixels (square images).
    """

    def __init__(
        self,
        stackwise_num_blocks: tuple[int, ...] | list[int] = (3, 4, 6, 3),
        stackwise_num_filters: tuple[int, ...] | list[int] = (64, 128, 256, 512),
        width_multiplier: int = 1,
        stride_in_3x3: bool = False,
        use_conv_bias: bool = True,
        batch_norm_epsilon: float = 1.001e-5,
        image_size: int = 224,
        **kwargs,
    ) -> None:
        stackwise_num_blocks = list(stackwise_num_blocks)
        stackwise_num_filters = list(stackwise_num_filters)
        _check_hyperparameters(
            stackwise_num_blocks,
            stackwise_num_filters,
            width_multiplier,
            stride_in_3x3,
            use_conv_bias,
            batch_norm_epsilon,
            image_size,
        )

        # === Functional model ===
        inputs = keras.Input(shape=(image_size, image_size, 3), name="images")
        x = _stem(inputs, use_conv_bias, batch_norm_epsilon)
        block_names = ["conv1"]
        for stage, (blocks, filters) in enumerate(
            zip(stackwise_num_blocks, stackwise_num_filters, strict=True)
        ):
            for block in range(blocks):
                name = f"conv{stage + 2}_block{block + 1}"
                x = _bottleneck_block(
                    x,
                    filters,
                    width=filters * width_multiplier,
                    stride=2 if (block == 0 and stage > 0) else 1,
                    conv_shortcut=block == 0,
                    stride_in_3x3=stride_in_3x3,
                    use_conv_bias=use_conv_bias,
                    epsilon=batch_norm_epsilon,
                    name=name,
                )
                block_names.append(name)
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        super().__init__(inputs=inputs, outputs=x, **kwargs)

        # === Config ===
        self.stackwise_num_blocks = stackwise_num_blocks
        self.stackwise_num_filters = stackwise_num_filters
        self.width_multiplier = width_multiplier
        self.stride_in_3x3 = stride_in_3x3
        self.use_conv_bias = use_conv_bias
        self.batch_norm_epsilon = batch_norm_epsilon
        self.image_size = image_size
        self._block_names = block_names

    @property
    def block_names(self) -> list[str]:
        """Block name prefixes in order: `conv1` (the input stem), then `conv2_block1` ...."""
        return list(self._block_names)

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "stackwise_num_blocks": list(self.stackwise_num_blocks),
            "stackwise_num_filters": list(self.stackwise_num_filters),
            "width_multiplier": self.width_multiplier,
            "stride_in_3x3": self.stride_in_3x3,
            "use_conv_bias": self.use_conv_bias,
            "batch_norm_epsilon": self.batch_norm_epsilon,
            "image_size": self.image_size,
        }


def _check_hyperparameters(
    stackwise_num_blocks: list[int],
    stackwise_num_filters: list[int],
    width_multiplier: int,
    stride_in_3x3: bool,
    use_conv_bias: bool,
    batch_norm_epsilon: float,
    image_size: int,
) -> None:
    """Raises ValueError ("... Received: name=value") for hyperparameters `ResNetBackbone` cannot take."""
    check_positive_ints("stackwise_num_blocks", stackwise_num_blocks)
    check_positive_ints("stackwise_num_filters", stackwise_num_filters)
    if len(stackwise_num_blocks) != len(stackwise_num_filters):
        raise ValueError(
            "`stackwise_num_blocks` and `stackwise_num_filters` must have the same length. Received: "
            f"stackwise_num_blocks={stackwise_num_blocks}, stackwise_num_filters={stackwise_num_filters}"
        )
    check_positive_int("width_multiplier", width_multiplier)
    if not isinstance(stride_in_3x3, bool) or not isinstance(use_conv_bias, bool):
        raise ValueError(
            "`stride_in_3x3` and `use_conv_bias` must be booleans. Received: "
            f"stride_in_3x3={stride_in_3x3}, use_conv_bias={use_conv_bias}"
        )
    if not batch_norm_epsilon > 0:
        raise ValueError(
            f"`batch_norm_epsilon` must be positive. Received: batch_norm_epsilon={batch_norm_epsilon}"
        )
    # conv1 and pool1 halve twice, every stage after the first once more.
    check_image_size(image_size, 2 ** (len(stackwise_num_blocks) + 1))


def _stem(inputs, use_conv_bias: bool, epsilon: float):
    """7x7/2 conv, BN, ReLU, 3x3/2 max pool: `[B, H, W, 3]` -> `[B, H/4, W/4, 64]`; Keras' names."""
    x = keras.layers.ZeroPadding2D(3, name="conv1_pad")(inputs)
    x = keras.layers.Conv2D(64, 7, strides=2, use_bias=use_conv_bias, name="conv1_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=epsilon, name="conv1_bn")(x)
    x = keras.layers.Activation("relu", name="conv1_relu")(x)
    x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
    return keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)


def _bottleneck_block(
    x,
    filters: int,
    width: int,
    stride: int,
    conv_shortcut: bool,
    stride_in_3x3: bool,
    use_conv_bias: bool,
    epsilon: float,
    name: str,
):
    """1x1 (width) -> 3x3 (width) -> 1x1 (4 x filters), plus the shortcut; Keras' names.

    Maps `[B, H, W, C]` to `[B, H / stride, W / stride, 4 * filters]`.
    """
    if conv_shortcut:
        shortcut = keras.layers.Conv2D(
            4 * filters, 1, strides=stride, use_bias=use_conv_bias, name=f"{name}_0_conv"
        )(x)
        shortcut = keras.layers.BatchNormalization(epsilon=epsilon, name=f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = keras.layers.Conv2D(
        width, 1, strides=1 if stride_in_3x3 else stride, use_bias=use_conv_bias, name=f"{name}_1_conv"
    )(x)
    x = keras.layers.BatchNormalization(epsilon=epsilon, name=f"{name}_1_bn")(x)
    x = keras.layers.Activation("relu", name=f"{name}_1_relu")(x)
    if stride_in_3x3 and stride > 1:
        # torchvision pads 1 on every side; TF's "same" would pad only bottom/right for
        # stride 2, shifting the sampling grid and breaking converted weights.
        x = keras.layers.ZeroPadding2D(1, name=f"{name}_2_pad")(x)
        x = keras.layers.Conv2D(width, 3, strides=stride, use_bias=use_conv_bias, name=f"{name}_2_conv")(x)
    else:
        x = keras.layers.Conv2D(width, 3, padding="same", use_bias=use_conv_bias, name=f"{name}_2_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=epsilon, name=f"{name}_2_bn")(x)
    x = keras.layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = keras.layers.Conv2D(4 * filters, 1, use_bias=use_conv_bias, name=f"{name}_3_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=epsilon, name=f"{name}_3_bn")(x)
    x = keras.layers.Add(name=f"{name}_add")([shortcut, x])
    return keras.layers.Activation("relu", name=f"{name}_out")(x)
