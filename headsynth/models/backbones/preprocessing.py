"""Input normalisation that pretrained backbone weights expect."""

from __future__ import annotations

from dataclasses import dataclass


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

# The names presets use for these normalisations.
PREPROCESSINGS: dict[str, ImagePreprocessing] = {
    "caffe": CAFFE_PREPROCESSING,
    "torchvision": TORCH_PREPROCESSING,
}
