"""The backbone registry: presets by name, and building a backbone from one."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import keras

from headsynth.core.errors import ConfigError
from headsynth.models.backbones.facemesh import PIXEL_INPUT, FaceMeshBackbone
from headsynth.models.backbones.preprocessing import PREPROCESSINGS, ImagePreprocessing
from headsynth.models.backbones.presets import BACKBONE_PRESETS
from headsynth.models.backbones.resnet import ResNetBackbone
from headsynth.models.backbones.small_cnn import SmallConvBackbone

# The classes a preset's `class_name` may name.
BACKBONE_CLASSES: dict[str, type[keras.Model]] = {
    "SmallConvBackbone": SmallConvBackbone,
    "ResNetBackbone": ResNetBackbone,
    "FaceMeshBackbone": FaceMeshBackbone,
}

# The normalisations a preset's `preprocessing` may name: "pixels" leaves 0..255 pixels as they are.
PRESET_PREPROCESSINGS: dict[str, ImagePreprocessing] = {**PREPROCESSINGS, "pixels": PIXEL_INPUT}


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
        name: the preset's name, also the built backbone's.
        backbone_class: the backbone's Keras model class.
        config: its constructor arguments other than `image_size` and `name`.
        description: one line for `--help` and errors.
        published_parameters: parameter count with the 1000-class ImageNet
            classifier, as published (None for our own small backbones).
        published_counts_moving_statistics: whether the published figure
            counts BatchNormalization moving mean/variance (Keras does;
            torchvision counts them as buffers, not parameters).
        weights_format: "keras_h5" (Keras' names), "torchvision" (a converted
            state dict), "mediapipe_tflite" (read from the installed wheel
            whenever the backbone is built) or "" (no published weights).
        keras_weights: the file Keras downloads for `stem_weights="imagenet"`.
        torchvision_name: the torchvision model whose state dict converts.
        preprocessing: input normalisation the pretrained weights expect.
    """

    name: str
    backbone_class: type[keras.Model]
    config: Mapping[str, Any] = field(hash=False)
    description: str
    published_parameters: int | None = None
    published_counts_moving_statistics: bool = True
    weights_format: str = ""
    keras_weights: KerasWeightsFile | None = None
    torchvision_name: str = ""
    preprocessing: ImagePreprocessing | None = None

    @property
    def builtin_weights(self) -> bool:
        """Whether `build` loads pretrained weights by itself (no `stem_weights` needed)."""
        return self.weights_format == "mediapipe_tflite"

    def build(self, image_size: int) -> keras.Model:
        """A backbone for `[B, image_size, image_size, 3]` images (freshly initialised unless `builtin_weights`).

        Raises:
            ValueError: for an image size the backbone cannot take.
        """
        return self.backbone_class(**copy.deepcopy(dict(self.config)), image_size=image_size, name=self.name)


def preset_from_data(name: str, data: Mapping[str, Any]) -> BackbonePreset:
    """A `BackbonePreset` from its plain-data form (see `presets.py` for the keys).

    Raises:
        KeyError: for an unknown `class_name` or `preprocessing`.
    """
    fields = copy.deepcopy(dict(data))
    keras_weights = fields.pop("keras_weights", None)
    preprocessing = fields.pop("preprocessing", None)
    return BackbonePreset(
        name=name,
        backbone_class=BACKBONE_CLASSES[fields.pop("class_name")],
        keras_weights=KerasWeightsFile(**keras_weights) if keras_weights else None,
        preprocessing=PRESET_PREPROCESSINGS[preprocessing] if preprocessing else None,
        **fields,
    )


BACKBONES: dict[str, BackbonePreset] = {
    name: preset_from_data(name, data) for name, data in BACKBONE_PRESETS.items()
}


def get_preset(name: str, key: str = "backbone") -> BackbonePreset:
    """Returns a registered preset.

    Args:
        name: the backbone's name.
        key: the configuration key the name came from, for the error message.

    Raises:
        ConfigError: for an unknown name, listing the known ones.
    """
    if name not in BACKBONES:
        raise ConfigError(f"Unknown {key} {name!r}.", f"Choose one of: {', '.join(sorted(BACKBONES))}.")
    return BACKBONES[name]


def build_backbone(name: str, image_size: int) -> keras.Model:
    """Builds a registered backbone, freshly initialised unless its preset has `builtin_weights`.

    Maps `[B, image_size, image_size, 3]` images to `[B, F]` pooled features.

    Raises:
        ConfigError: for an unknown name, or built-in weights whose file is not installed.
        ValueError: for an image size the backbone cannot take.
    """
    return get_preset(name).build(image_size)
