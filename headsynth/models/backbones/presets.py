"""The registered backbones, as plain data.

Each preset names a backbone class (`class_name`), its hyperparameters
except `image_size` (`config`), and what is known of its published weights.
`registry.py` turns these into `BackbonePreset`s.

Presets:
    resnet50: ResNet-50 v1 as Keras ships it (stride in the first 1x1 conv,
        biased convolutions), the network of the paper (Caffe's ResNet-50);
        loads Keras' ImageNet file by layer name.
    resnet50_v1_5: torchvision's ResNet-50 (stride in the 3x3 conv, no conv
        biases); loads a converted torchvision state dict.
    wide_resnet50_2: torchvision's WideResNet-50-2, the thesis's stem (Keras
        ships none); loads a converted torchvision state dict.
    small_cnn, tiny_cnn: small CNNs for the CPU presets.
    facemesh: mediapipe's face mesh CNN, trained on real faces; its weights
        come from the installed mediapipe wheel when it is built (see
        `facemesh.py` for provenance and licence).
    facemesh_colour: for a head trained on few renders: the face mesh's
        pooled maps (not the 4608-wide 6x6 map, on which the thesis head
        memorised 3,000 renders: validation error 4.7 against training 0.4),
        its landmarks and face flag, and the crop's mean colours on a 4x4 grid
        (the face mesh network sees shape, not skin tone).

Keys of a preset:
    class_name: "SmallConvBackbone", "ResNetBackbone" or "FaceMeshBackbone".
    config: constructor arguments other than `image_size` and `name`.
    description: one line for `--help` and errors.
    published_parameters: parameter count with the 1000-class ImageNet
        classifier, as published (absent for our own small backbones).
    published_counts_moving_statistics: whether that figure counts
        BatchNormalization moving statistics (Keras does, torchvision does not).
    weights_format: "keras_h5" (Keras' names), "torchvision" (a converted
        state dict) or "mediapipe_tflite" (read from the installed mediapipe
        wheel when the backbone is built: no file to supply); absent when no
        weights are published.
    keras_weights: `file_name`, `origin` and `file_hash` of the file Keras
        downloads for `stem_weights="imagenet"`.
    torchvision_name: the torchvision model whose state dict converts.
    preprocessing: "caffe", "torchvision" or "pixels" (none: the backbone
        normalises 0..255 pixels itself), the input normalisation the
        pretrained weights expect.
"""

from __future__ import annotations

from typing import Any

_KERAS_RESNET = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
_RESNET50_NOTOP = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"

# ResNet-50's stages; WideResNet-50-2 has the same, with twice as wide inner convolutions.
_RESNET50_STAGES = {"stackwise_num_blocks": [3, 4, 6, 3], "stackwise_num_filters": [64, 128, 256, 512]}

BACKBONE_PRESETS: dict[str, dict[str, Any]] = {
    "tiny_cnn": {
        "class_name": "SmallConvBackbone",
        "config": {"stage_filters": [16, 32, 64], "convs_per_stage": 1},
        "description": "3-stage CNN, 1 conv per stage (ci preset)",
    },
    "small_cnn": {
        "class_name": "SmallConvBackbone",
        "config": {"stage_filters": [32, 64, 128, 192], "convs_per_stage": 2},
        "description": "4-stage CNN, 2 convs per stage (quickstart preset)",
    },
    "resnet50": {
        "class_name": "ResNetBackbone",
        "config": {
            **_RESNET50_STAGES,
            "width_multiplier": 1,
            "stride_in_3x3": False,
            "use_conv_bias": True,
            "batch_norm_epsilon": 1.001e-5,
        },
        "description": "ResNet-50 v1 as in Caffe and Keras (the paper)",
        "published_parameters": 25_636_712,
        "weights_format": "keras_h5",
        "keras_weights": {
            "file_name": _RESNET50_NOTOP,
            "origin": _KERAS_RESNET + _RESNET50_NOTOP,
            "file_hash": "4d473c1dd8becc155b73f8504c6f6626",
        },
        "preprocessing": "caffe",
    },
    "resnet50_v1_5": {
        "class_name": "ResNetBackbone",
        "config": {
            **_RESNET50_STAGES,
            "width_multiplier": 1,
            "stride_in_3x3": True,
            "use_conv_bias": False,
            "batch_norm_epsilon": 1e-5,
        },
        "description": "ResNet-50 v1.5 as in torchvision",
        "published_parameters": 25_557_032,
        "published_counts_moving_statistics": False,
        "weights_format": "torchvision",
        "torchvision_name": "resnet50",
        "preprocessing": "torchvision",
    },
    "wide_resnet50_2": {
        "class_name": "ResNetBackbone",
        "config": {
            **_RESNET50_STAGES,
            "width_multiplier": 2,
            "stride_in_3x3": True,
            "use_conv_bias": False,
            "batch_norm_epsilon": 1e-5,
        },
        "description": "WideResNet-50-2 as in torchvision (the thesis)",
        "published_parameters": 68_883_240,
        "published_counts_moving_statistics": False,
        "weights_format": "torchvision",
        "torchvision_name": "wide_resnet50_2",
        "preprocessing": "torchvision",
    },
    "facemesh": {
        "class_name": "FaceMeshBackbone",
        "config": {
            "features": ["pooled_12x12", "map_6x6", "landmarks", "face_flag"],
            "pretrained": True,
        },
        "description": "mediapipe's face mesh CNN on real faces (weights from the installed wheel)",
        "weights_format": "mediapipe_tflite",
        "preprocessing": "pixels",
    },
    "facemesh_colour": {
        "class_name": "FaceMeshBackbone",
        "config": {
            "features": ["pooled_12x12", "pooled_6x6", "landmarks", "face_flag", "colour_4x4"],
            "pretrained": True,
        },
        "description": "facemesh, plus the crop's colours on a 4x4 grid (skin tone and light, for the texture)",
        "weights_format": "mediapipe_tflite",
        "preprocessing": "pixels",
    },
}
