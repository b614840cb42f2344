"""Keras backbones behind one preset registry, in the keras-hub manner.

Each backbone is a functional `keras.Model` whose constructor takes plain
hyperparameters, validates them ("... Received: x") and has a complete
`get_config`. It maps `[B, H, W, 3]` float images (already preprocessed by
the regressor) to `[B, F]` pooled features, and exposes `block_names` (see
`blocks.py`) so a stem can be trained "from block N on".

Modules:
    small_cnn: `SmallConvBackbone` (tiny_cnn, small_cnn).
    resnet: `ResNetBackbone` (resnet50, resnet50_v1_5, wide_resnet50_2).
    facemesh: `FaceMeshBackbone` (facemesh): mediapipe's face mesh CNN, weights
        from the installed wheel; it takes 0..255 pixels (see its docstring).
    tflite_weights: reading a `.tflite` file's weights and op list.
    preprocessing: `ImagePreprocessing`, the input normalisation of pretrained weights.
    presets: the registered backbones as plain data.
    registry: `BACKBONES`, `get_preset`, `build_backbone`.
    blocks: `block_of_layer`, `set_trainable_from_block`.
"""

from headsynth.models.backbones.blocks import block_of_layer, set_trainable_from_block
from headsynth.models.backbones.facemesh import FaceMeshBackbone, facemesh_outputs
from headsynth.models.backbones.preprocessing import (
    CAFFE_PREPROCESSING,
    TORCH_PREPROCESSING,
    ImagePreprocessing,
)
from headsynth.models.backbones.registry import (
    BACKBONE_CLASSES,
    BACKBONES,
    BackbonePreset,
    KerasWeightsFile,
    build_backbone,
    get_preset,
)
from headsynth.models.backbones.resnet import ResNetBackbone
from headsynth.models.backbones.small_cnn import SmallConvBackbone

__all__ = [
    "BACKBONES",
    "BACKBONE_CLASSES",
    "BackbonePreset",
    "CAFFE_PREPROCESSING",
    "FaceMeshBackbone",
    "ImagePreprocessing",
    "KerasWeightsFile",
    "ResNetBackbone",
    "SmallConvBackbone",
    "TORCH_PREPROCESSING",
    "block_of_layer",
    "build_backbone",
    "facemesh_outputs",
    "get_preset",
    "set_trainable_from_block",
]
