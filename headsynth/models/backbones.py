"""Keras backbones behind one preset registry.

Each backbone is a functional `keras.Model` whose constructor takes plain
hyperparameters, validates them ("... Received: x") and has a complete
`get_config`, in the keras-hub manner. It maps `[B, H, W, 3]` float images
(already preprocessed by the regressor) to `[B, F]` pooled features.

Backbones expose `block_names`: the ordered name prefixes of their blocks
(block 0 is the input stem), so a stem can be trained "from block N on".

Presets:
    resnet50: ResNet-50 v1 as Keras ships it (stride in the first 1x1 conv,
        biased convolutions), the network of the paper (Caffe's ResNet-50);
        loads Keras' ImageNet file by layer name.
    resnet50_v1_5: torchvision's ResNet-50 (stride in the 3x3 conv, no conv
        biases); loads a converted torchvision state dict.
    wide_resnet50_2: torchvision's WideResNet-50-2, the thesis's stem (Keras
        ships none); loads a converted torchvision state dict.
    small_cnn, tiny_cnn: small CNNs for the CPU presets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras


def _check_positive_ints(name: str, values) -> None:
    if not values or any((not isinstance(v, int)) or isinstance(v, bool) or v <= 0 for v in values):
        raise ValueError(f"`{name}` must be a non-empty list of positive integers. Received: {name}={values}")


def _check_image_size(image_size, minimum: int) -> None:
    if not isinstance(image_size, int) or isinstance(image_size, bool) or image_size < minimum:
        raise ValueError(f"`image_size` must be an integer >= {minimum}. Received: image_size={image_size}")


# --- Small CNN ------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="headsynth")
class SmallConvBackbone(keras.Model):
    """A small CNN for CPU presets: stride-2 conv/BN/ReLU stages, then global pooling.

    Blocks are the stages (`stage0`, `stage1`, ...).

    Args:
        stage_filters: filters of each stage; every stage halves the resolution.
        convs_per_stage: 3x3 convolutions per stage.
        image_size: input side in pixels (square images).
        dropout: dropout rate on the pooled features.
    """

    def __init__(
        self,
        stage_filters: tuple[int, ...] | list[int] = (32, 64, 128, 192),
        convs_per_stage: int = 2,
        image_size: int = 64,
        dropout: float = 0.0,
        **kwargs,
    ) -> None:
        stage_filters = list(stage_filters)
        _check_positive_ints("stage_filters", stage_filters)
        if not isinstance(convs_per_stage, int) or convs_per_stage < 1:
            raise ValueError(
                f"`convs_per_stage` must be a positive integer. Received: convs_per_stage={convs_per_stage}"
            )
        _check_image_size(image_size, 2 ** len(stage_filters))
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout}")

        # === Functional model ===
        inputs = keras.Input(shape=(image_size, image_size, 3), name="images")
        x = inputs
        for stage, filters in enumerate(stage_filters):
            for conv in range(convs_per_stage):
                x = keras.layers.Conv2D(
                    filters,
                    3,
                    strides=2 if conv == 0 else 1,
                    padding="same",
                    use_bias=False,
                    name=f"stage{stage}_conv{conv}",
                )(x)
                x = keras.layers.BatchNormalization(name=f"stage{stage}_bn{conv}")(x)
                x = keras.layers.ReLU(name=f"stage{stage}_relu{conv}")(x)
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name="pool_dropout")(x)
        super().__init__(inputs=inputs, outputs=x, **kwargs)

        # === Config ===
        self.stage_filters = stage_filters
        self.convs_per_stage = convs_per_stage
        self.image_size = image_size
        self.dropout = dropout

    @property
    def block_names(self) -> list[str]:
        """Block name prefixes in order; block 0 is the input stem."""
        return [f"stage{i}" for i in range(len(self.stage_filters))]

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "stage_filters": list(self.stage_filters),
            "convs_per_stage": self.convs_per_stage,
            "image_size": self.image_size,
            "dropout": self.dropout,
        }


# --- ResNet / WideResNet --------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="headsynth")
class ResNetBackbone(keras.Model):
    """A bottleneck ResNet (ResNet-50 v1 / v1.5, WideResNet-50-2) without its classifier.

    Layer names follow `keras.applications.ResNet50` (`conv1_conv`,
    `conv2_block1_1_conv`, ..., `avg_pool`) so Keras' ImageNet file loads by
    name, and map one-to-one onto torchvision's `layerS.B.convK` keys.

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
        _check_positive_ints("stackwise_num_blocks", stackwise_num_blocks)
        _check_positive_ints("stackwise_num_filters", stackwise_num_filters)
        if len(stackwise_num_blocks) != len(stackwise_num_filters):
            raise ValueError(
                "`stackwise_num_blocks` and `stackwise_num_filters` must have the same length. Received: "
                f"stackwise_num_blocks={stackwise_num_blocks}, stackwise_num_filters={stackwise_num_filters}"
            )
        if (
            not isinstance(width_multiplier, int)
            or isinstance(width_multiplier, bool)
            or width_multiplier < 1
        ):
            raise ValueError(
                f"`width_multiplier` must be a positive integer. Received: width_multiplier={width_multiplier}"
            )
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
        _check_image_size(image_size, 2 ** (len(stackwise_num_blocks) + 1))

        # === Functional model ===
        inputs = keras.Input(shape=(image_size, image_size, 3), name="images")
        x = keras.layers.ZeroPadding2D(3, name="conv1_pad")(inputs)
        x = keras.layers.Conv2D(64, 7, strides=2, use_bias=use_conv_bias, name="conv1_conv")(x)
        x = keras.layers.BatchNormalization(epsilon=batch_norm_epsilon, name="conv1_bn")(x)
        x = keras.layers.Activation("relu", name="conv1_relu")(x)
        x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
        x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
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
    """1x1 (width) -> 3x3 (width) -> 1x1 (4 x filters), plus the shortcut; Keras' names."""
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


# --- Preprocessing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImagePreprocessing:
    """How 0..255 RGB images are normalised for pretrained weights.

    Attributes:
        channel_order: "rgb", or "bgr" (Caffe-trained weights).
        mean: per-channel mean in the network's channel order, 0..255 scale.
        scale: per-channel factor applied after subtracting the mean.
    """

    channel_order: str
    mean: tuple[float, float, float]
    scale: tuple[float, float, float]


# Keras' resnet50 ("caffe" mode): BGR, ImageNet mean subtracted, no scaling.
CAFFE_PREPROCESSING = ImagePreprocessing("bgr", (103.939, 116.779, 123.68), (1.0, 1.0, 1.0))
# torchvision: x / 255, then (x - mean) / std per RGB channel.
TORCH_PREPROCESSING = ImagePreprocessing(
    "rgb",
    (0.485 * 255.0, 0.456 * 255.0, 0.406 * 255.0),
    (1.0 / (0.229 * 255.0), 1.0 / (0.224 * 255.0), 1.0 / (0.225 * 255.0)),
)


# --- Presets --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KerasWeightsFile:
    """An ImageNet weights file Keras downloads (`keras.utils.get_file`)."""

    file_name: str
    origin: str
    file_hash: str


@dataclass(frozen=True)
class BackbonePreset:
    """One registered backbone.

    Attributes:
        factory: image_size -> a freshly built backbone.
        description: one line for `--help` and errors.
        published_parameters: parameter count with the 1000-class ImageNet
            classifier, as published (None for our own small backbones).
        published_counts_moving_statistics: whether the published figure
            counts BatchNormalization moving mean/variance (Keras does;
            torchvision counts them as buffers, not parameters).
        weights_format: "keras_h5" (Keras' names), "torchvision" (a converted
            state dict) or "" (no published weights).
        keras_weights: the file Keras downloads for `stem_weights="imagenet"`.
        torchvision_name: the torchvision model whose state dict converts.
        preprocessing: input normalisation the pretrained weights expect.
    """

    factory: Callable[[int], keras.Model]
    description: str
    published_parameters: int | None = None
    published_counts_moving_statistics: bool = True
    weights_format: str = ""
    keras_weights: KerasWeightsFile | None = None
    torchvision_name: str = ""
    preprocessing: ImagePreprocessing | None = None


_KERAS_RESNET = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"

BACKBONES: dict[str, BackbonePreset] = {
    "tiny_cnn": BackbonePreset(
        lambda image_size: SmallConvBackbone((16, 32, 64), 1, image_size, name="tiny_cnn"),
        "3-stage CNN, 1 conv per stage (ci preset)",
    ),
    "small_cnn": BackbonePreset(
        lambda image_size: SmallConvBackbone((32, 64, 128, 192), 2, image_size, name="small_cnn"),
        "4-stage CNN, 2 convs per stage (quickstart preset)",
    ),
    "resnet50": BackbonePreset(
        lambda image_size: ResNetBackbone(image_size=image_size, name="resnet50"),
        "ResNet-50 v1 as in Caffe and Keras (the paper)",
        published_parameters=25_636_712,
        weights_format="keras_h5",
        keras_weights=KerasWeightsFile(
            "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
            _KERAS_RESNET + "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
            "4d473c1dd8becc155b73f8504c6f6626",
        ),
        preprocessing=CAFFE_PREPROCESSING,
    ),
    "resnet50_v1_5": BackbonePreset(
        lambda image_size: ResNetBackbone(
            stride_in_3x3=True,
            use_conv_bias=False,
            batch_norm_epsilon=1e-5,
            image_size=image_size,
            name="resnet50_v1_5",
        ),
        "ResNet-50 v1.5 as in torchvision",
        published_parameters=25_557_032,
        published_counts_moving_statistics=False,
        weights_format="torchvision",
        torchvision_name="resnet50",
        preprocessing=TORCH_PREPROCESSING,
    ),
    "wide_resnet50_2": BackbonePreset(
        lambda image_size: ResNetBackbone(
            width_multiplier=2,
            stride_in_3x3=True,
            use_conv_bias=False,
            batch_norm_epsilon=1e-5,
            image_size=image_size,
            name="wide_resnet50_2",
        ),
        "WideResNet-50-2 as in torchvision (the thesis)",
        published_parameters=68_883_240,
        published_counts_moving_statistics=False,
        weights_format="torchvision",
        torchvision_name="wide_resnet50_2",
        preprocessing=TORCH_PREPROCESSING,
    ),
}


def get_preset(name: str) -> BackbonePreset:
    """Returns a registered preset.

    Raises:
        ValueError: for an unknown name.
    """
    if name not in BACKBONES:
        raise ValueError(f"Unknown backbone {name!r}. Choose one of: {', '.join(sorted(BACKBONES))}.")
    return BACKBONES[name]


def build_backbone(name: str, image_size: int) -> keras.Model:
    """Builds a registered backbone with freshly initialised weights.

    Raises:
        ValueError: for an unknown name or an image size the backbone cannot take.
    """
    return get_preset(name).factory(image_size)


def block_of_layer(backbone: keras.Model, layer_name: str) -> int | None:
    """Index in `backbone.block_names` of the block a layer belongs to (None: none)."""
    for index, block in enumerate(backbone.block_names):
        if layer_name.startswith(f"{block}_"):
            return index
    return None


def set_trainable_from_block(backbone: keras.Model, first_trained_block: int) -> None:
    """Freezes blocks `0 .. first_trained_block - 1` and trains the rest.

    Frozen BatchNormalization layers run in inference mode (Keras 3), so
    their moving statistics stay as loaded too.

    Raises:
        ValueError: if the block index is outside `1 .. len(block_names) - 1`.
    """
    count = len(backbone.block_names)
    if not isinstance(first_trained_block, int) or not 1 <= first_trained_block < count:
        raise ValueError(
            f"`first_trained_block` must be between 1 and {count - 1} for {backbone.name} "
            f"(blocks: {', '.join(backbone.block_names)}). Received: first_trained_block={first_trained_block}"
        )
    backbone.trainable = True
    for layer in backbone.layers:
        block = block_of_layer(backbone, layer.name)
        if layer.weights and block is None:
            raise ValueError(f"Layer {layer.name!r} of {backbone.name} belongs to no block.")
        layer.trainable = block is None or block >= first_trained_block
