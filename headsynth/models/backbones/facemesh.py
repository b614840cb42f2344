"""mediapipe's face mesh CNN as a Keras backbone (`facemesh`), its weights read from the installed wheel.

Provenance and licence: a functional Keras 3 port of
`mediapipe/modules/face_landmark/face_landmark.tflite` as shipped in the
mediapipe 0.10.21 wheel (its metadata: "facemesh-lite", "Detects human face
landmarks"), by Google's MediaPipe team
(https://github.com/google-ai-edge/mediapipe; Kartynnik et al., "Real-time
Facial Surface Geometry from Monocular Video on Mobile GPUs", 2019), licensed
under the Apache License 2.0. The network and its weights are Google's; this
module holds no weights: they are read from the installed file whenever the
backbone is built with `pretrained=True` (float16 in the file, widened to
float32), so nothing is downloaded.

The network (the op list of the file, see `tflite_weights.read_tflite_ops`):
a 3x3/2 conv and PReLU, 14 residual units (depthwise 3x3 -> 1x1 conv, a
max-pooled and zero-channel-padded shortcut where a unit halves the
resolution, add, PReLU) down to a 6x6x128 map, then two branches: 468 x 3
landmarks (x, y in pixels of the 192 x 192 input, z on the same scale) and a
face-flag logit (mediapipe applies a sigmoid to it). TFLite's paddings are
reproduced: SAME for the 3x3 and depthwise convolutions (TensorFlow's SAME
pads stride-2 layers at the bottom/right only, as Keras' "same" does),
VALID for the 1x1 convolutions, 2x2/2 max pools and the final 3x3/3 convs.

Input framing: the backbone takes `[B, image_size, image_size, 3]` RGB pixels
in 0..255, resizes them to 192 x 192 (bilinear) and scales them to [0, 1],
the range the tflite model expects (on real photos [0, 1] gives the face
flags and landmarks mediapipe's own graph gives; [-1, 1] and 0..255 do not).
The face should fill the crop the way mediapipe frames it: its detector's
box, enlarged about 1.5 times, made square. The regressor must therefore
pass pixels through unchanged (`PIXEL_INPUT`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import keras
from keras import ops

from headsynth.models.backbones.blocks import block_of_layer
from headsynth.models.backbones.checks import check_image_size
from headsynth.models.backbones.preprocessing import ImagePreprocessing
from headsynth.models.backbones.tflite_weights import face_landmark_tflite_path, read_tflite_weights

# The tflite model's input side in pixels.
FACEMESH_SIZE = 192
NUM_LANDMARKS = 468

# The regressor's normalisation for this backbone: none (it normalises its own 0..255 input).
PIXEL_INPUT = ImagePreprocessing("rgb", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))

# What the backbone's `[B, F]` output can concatenate, and each part's width.
FEATURE_SIZES = {
    "pooled_12x12": 128,  # the 12x12x128 map after block 11, averaged over space
    "map_6x6": 6 * 6 * 128,  # the last shared map (after block 14), flattened
    "pooled_6x6": 128,  # that map averaged over space
    "landmarks": 3 * NUM_LANDMARKS,  # the landmarks divided by 192 (x, y in 0..1)
    "face_flag": 1,  # the face-flag logit
    "colour_4x4": 4 * 4 * 3,  # the input's colours (0..1) averaged over a 4x4 grid: skin and light
}
DEFAULT_FEATURES = ("pooled_12x12", "map_6x6", "landmarks", "face_flag")

# Layers whose outputs `facemesh_outputs` names.
_NAMED_LAYERS = {
    "map_12x12": "block11_p_re_lu_12",
    "map_6x6": "block14_p_re_lu_15",
    "pooled_12x12": "features_pooled_12x12",
    "pooled_6x6": "features_pooled_6x6",
    "landmarks": "landmarks_output",
    "face_flag": "face_flag_output",
    "features": "features",
}


class _Unit(NamedTuple):
    """A residual unit; the numbers are those of its layers' names in the tflite file.

    Depthwise 3x3 (`stride`) -> 1x1 conv to `filters`; the shortcut is
    max-pooled (`pool`) and zero-padded to `filters` channels (`pad`) when the
    unit halves the resolution or widens; add; PReLU.
    """

    depthwise: int
    conv: int
    add: int
    prelu: int
    filters: int
    stride: int = 1
    pool: int = 0
    pad: int = 0


class _Projection(NamedTuple):
    """A 1x1 conv to `filters` and a PReLU (the branches narrow to 32 channels)."""

    conv: int
    prelu: int
    filters: int


_TRUNK = (
    _Unit(1, 2, 1, 2, 16),
    _Unit(2, 3, 2, 3, 16),
    _Unit(3, 4, 3, 4, 32, stride=2, pool=1, pad=1),
    _Unit(4, 5, 4, 5, 32),
    _Unit(5, 6, 5, 6, 32),
    _Unit(6, 7, 6, 7, 64, stride=2, pool=2, pad=2),
    _Unit(7, 8, 7, 8, 64),
    _Unit(8, 9, 8, 9, 64),
    _Unit(9, 10, 9, 10, 128, stride=2, pool=3, pad=3),
    _Unit(10, 11, 10, 11, 128),
    _Unit(11, 12, 11, 12, 128),
    _Unit(12, 13, 12, 13, 128, stride=2, pool=4),
    _Unit(13, 14, 13, 14, 128),
    _Unit(14, 15, 14, 15, 128),
)
# Branch: (block name, steps on the 6x6 map, final 3x3/3 conv's number, outputs).
_LANDMARK_BRANCH = (
    "landmarks",
    (
        _Unit(15, 16, 15, 16, 128, stride=2, pool=5),
        _Unit(16, 17, 16, 17, 128),
        _Unit(17, 18, 17, 18, 128),
        _Projection(19, 19, 32),
        _Unit(18, 20, 18, 20, 32),
    ),
    21,
    3 * NUM_LANDMARKS,
)
_FLAG_BRANCH = (
    "face_flag",
    (_Unit(23, 28, 23, 26, 128, stride=2, pool=7), _Projection(29, 27, 32), _Unit(24, 30, 24, 28, 32)),
    31,
    1,
)


@keras.saving.register_keras_serializable(package="headsynth")
class ChannelPadding(keras.layers.Layer):
    """Appends zero channels (TFLite's channel PAD): `[B, H, W, C]` -> `[B, H, W, C + extra_channels]`."""

    def __init__(self, extra_channels: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.extra_channels = extra_channels

    def call(self, x):
        return ops.pad(x, [[0, 0], [0, 0], [0, 0], [0, self.extra_channels]])

    def compute_output_shape(self, input_shape):
        channels = None if input_shape[-1] is None else input_shape[-1] + self.extra_channels
        return (*input_shape[:-1], channels)

    def get_config(self) -> dict:
        return {**super().get_config(), "extra_channels": self.extra_channels}


@keras.saving.register_keras_serializable(package="headsynth")
class FaceMeshBackbone(keras.Model):
    """mediapipe's face mesh CNN (see the module docstring), mapping pixels to `[B, F]` features.

    Maps `[B, image_size, image_size, 3]` RGB pixels in 0..255 to the
    concatenation of `features` (widths in `FEATURE_SIZES`). Layers are named
    `<block>_<tflite layer>` (`stem_conv2d_1`, `block3_depthwise_conv2d_3`,
    `landmarks_conv2d_21`, ...); blocks are `stem`, `block1` .. `block14`,
    `landmarks`, `face_flag`. `facemesh_outputs` gives the landmarks, face
    flag and intermediate maps. Only the branches `features` use are built.

    Args:
        features: which parts the output concatenates, in this order.
        pretrained: read the weights from mediapipe's installed
            `face_landmark.tflite` (otherwise Keras' initialisers).
        image_size: input side in pixels (square images; resized to 192).
    """

    def __init__(
        self,
        features: Sequence[str] = DEFAULT_FEATURES,
        pretrained: bool = True,
        image_size: int = FACEMESH_SIZE,
        **kwargs,
    ) -> None:
        features = list(features)
        _check_hyperparameters(features, pretrained, image_size)

        # === Functional model ===
        inputs = keras.Input(shape=(image_size, image_size, 3), name="images")
        x = inputs
        if image_size != FACEMESH_SIZE:
            x = keras.layers.Resizing(FACEMESH_SIZE, FACEMESH_SIZE, antialias=True, name="input_resize")(x)
        x = keras.layers.Rescaling(1.0 / 255.0, name="input_scale")(x)
        maps = {"input": x}
        x = _conv(x, 16, 3, 2, "same", "stem_conv2d_1")
        x = _prelu(x, "stem_p_re_lu_1")
        for index, unit in enumerate(_TRUNK, start=1):
            x = _residual_unit(x, unit, f"block{index}")
            if index == 11:
                maps["map_12x12"] = x
        maps["map_6x6"] = x
        parts = [_feature(name, maps) for name in features]
        outputs = parts[0] if len(parts) == 1 else keras.layers.Concatenate(name="features")(parts)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.features = features
        self.pretrained = pretrained
        self.image_size = image_size
        if pretrained:
            self.load_tflite_weights(face_landmark_tflite_path())

    @property
    def block_names(self) -> list[str]:
        """Block name prefixes in order: `stem`, `block1` .. `block14`, then the branches built."""
        branches = [b for b in ("landmarks", "face_flag") if b in self.features]
        return ["stem", *(f"block{i}" for i in range(1, len(_TRUNK) + 1)), *branches]

    def load_tflite_weights(self, path: str) -> None:
        """Copies the weights of a `face_landmark.tflite` file into the layers, by tflite layer name.

        Raises:
            ValueError: if a layer has no weights in the file, a shape differs,
                or (with both branches built) the file has weights no layer takes.
        """
        weights = read_tflite_weights(path)
        used = set()
        for layer in self.layers:
            if not layer.weights:
                continue
            block = self.block_names[block_of_layer(self, layer.name)]
            tflite_name = layer.name[len(block) + 1 :]
            if isinstance(layer, keras.layers.PReLU):
                keys, values = [f"{tflite_name}/Alpha"], [weights.get(f"{tflite_name}/Alpha")]
            else:
                keys = [f"{tflite_name}/Kernel", f"{tflite_name}/Bias"]
                # TFLite kernels are [out, h, w, in] ([1, h, w, channels] for depthwise ones).
                kernel = weights.get(keys[0])
                values = [None if kernel is None else kernel.transpose(1, 2, 3, 0), weights.get(keys[1])]
            expected = [tuple(w.shape) for w in layer.weights]
            found = [None if v is None else v.shape for v in values]
            if found != expected:
                raise ValueError(f"{path} has {keys} of shapes {found}; layer {layer.name} needs {expected}.")
            layer.set_weights(values)
            used.update(keys)
        unused = sorted(set(weights) - used)
        if unused and {"landmarks", "face_flag"} <= set(self.features):
            raise ValueError(f"{path} has {len(unused)} weights no layer of {self.name} takes: {unused[:3]}.")

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "features": list(self.features),
            "pretrained": self.pretrained,
            "image_size": self.image_size,
        }


def facemesh_outputs(backbone: FaceMeshBackbone) -> keras.Model:
    """A model sharing `backbone`'s layers that returns its named outputs as a dict.

    Keys: "landmarks" `[B, 1404]` (x, y, z of the 468 landmarks, pixels of the
    192 x 192 input), "face_flag" `[B, 1]` (logit), "map_12x12"
    `[B, 12, 12, 128]`, "map_6x6" `[B, 6, 6, 128]`, "features" `[B, F]`, and
    "pooled_12x12" / "pooled_6x6" `[B, 128]`; only those in the backbone's graph.
    """
    names = {layer.name for layer in backbone.layers}
    outputs = {key: backbone.get_layer(name).output for key, name in _NAMED_LAYERS.items() if name in names}
    outputs["features"] = backbone.output
    return keras.Model(backbone.input, outputs, name=f"{backbone.name}_outputs")


def _check_hyperparameters(features: list[str], pretrained: bool, image_size: int) -> None:
    """Raises ValueError ("... Received: name=value") for hyperparameters `FaceMeshBackbone` cannot take."""
    if not features or any(f not in FEATURE_SIZES for f in features) or len(set(features)) != len(features):
        raise ValueError(
            f"`features` must be a non-empty list of distinct names among {', '.join(FEATURE_SIZES)}. "
            f"Received: features={features}"
        )
    if not isinstance(pretrained, bool):
        raise ValueError(f"`pretrained` must be a boolean. Received: pretrained={pretrained}")
    check_image_size(image_size, 16)


def _conv(x, filters: int, kernel: int, stride: int, padding: str, name: str):
    return keras.layers.Conv2D(filters, kernel, strides=stride, padding=padding, name=name)(x)


def _prelu(x, name: str):
    # TFLite's alphas are [1, 1, C]: one per channel, shared over space.
    return keras.layers.PReLU(shared_axes=[1, 2], name=name)(x)


def _residual_unit(x, unit: _Unit, block: str):
    """One residual unit (`_Unit`): `[B, H, W, C]` -> `[B, H / stride, W / stride, filters]`."""
    y = keras.layers.DepthwiseConv2D(
        3, strides=unit.stride, padding="same", name=f"{block}_depthwise_conv2d_{unit.depthwise}"
    )(x)
    y = _conv(y, unit.filters, 1, 1, "valid", f"{block}_conv2d_{unit.conv}")
    shortcut = x
    if unit.pool:
        shortcut = keras.layers.MaxPooling2D(2, 2, name=f"{block}_max_pooling2d_{unit.pool}")(shortcut)
    if unit.pad:
        extra = unit.filters - int(x.shape[-1])
        shortcut = ChannelPadding(extra, name=f"{block}_channel_padding_{unit.pad}")(shortcut)
    x = keras.layers.Add(name=f"{block}_add_{unit.add}")([shortcut, y])
    return _prelu(x, f"{block}_p_re_lu_{unit.prelu}")


def _branch(x, branch: tuple):
    """A landmark or face-flag branch on the 6x6 map: `[B, 6, 6, 128]` -> `[B, outputs]`."""
    block, steps, final_conv, outputs = branch
    for step in steps:
        if isinstance(step, _Unit):
            x = _residual_unit(x, step, block)
        else:
            x = _conv(x, step.filters, 1, 1, "valid", f"{block}_conv2d_{step.conv}")
            x = _prelu(x, f"{block}_p_re_lu_{step.prelu}")
    x = _conv(x, outputs, 3, 3, "valid", f"{block}_conv2d_{final_conv}")
    return keras.layers.Reshape((outputs,), name=f"{block}_output")(x)


def _feature(name: str, maps: dict):
    """One part of the output features, `[B, FEATURE_SIZES[name]]`, from the trunk's maps."""
    if name == "pooled_12x12":
        return keras.layers.GlobalAveragePooling2D(name="features_pooled_12x12")(maps["map_12x12"])
    if name == "map_6x6":
        return keras.layers.Flatten(name="features_map_6x6")(maps["map_6x6"])
    if name == "pooled_6x6":
        return keras.layers.GlobalAveragePooling2D(name="features_pooled_6x6")(maps["map_6x6"])
    if name == "colour_4x4":
        grid = keras.layers.AveragePooling2D(FACEMESH_SIZE // 4, name="features_colour_pool")(maps["input"])
        return keras.layers.Flatten(name="features_colour_4x4")(grid)
    if name == "landmarks":
        landmarks = _branch(maps["map_6x6"], _LANDMARK_BRANCH)
        return keras.layers.Rescaling(1.0 / FACEMESH_SIZE, name="features_landmarks")(landmarks)
    return _branch(maps["map_6x6"], _FLAG_BRANCH)
