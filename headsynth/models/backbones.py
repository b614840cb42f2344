"""Keras backbones behind one registry.

Each backbone is a functional `keras.Model` whose constructor takes plain
hyperparameters, validates them ("... Received: x") and has a complete
`get_config`, in the keras-hub manner. It maps `[B, H, W, 3]` float images
(already mean-subtracted) to `[B, F]` pooled features.
"""

from __future__ import annotations

from collections.abc import Callable

import keras


def _check_positive_ints(name: str, values) -> None:
    if not values or any((not isinstance(v, int)) or v <= 0 for v in values):
        raise ValueError(f"`{name}` must be a non-empty list of positive integers. Received: {name}={values}")


@keras.saving.register_keras_serializable(package="headsynth")
class SmallConvBackbone(keras.Model):
    """A small CNN for CPU presets: stride-2 conv/BN/ReLU stages, then global pooling.

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
        if not isinstance(image_size, int) or image_size < 2 ** len(stage_filters):
            raise ValueError(
                f"`image_size` must be an integer >= 2**len(stage_filters) = {2 ** len(stage_filters)}. "
                f"Received: image_size={image_size}"
            )
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
        x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name="pool_dropout")(x)
        super().__init__(inputs=inputs, outputs=x, **kwargs)

        # === Config ===
        self.stage_filters = stage_filters
        self.convs_per_stage = convs_per_stage
        self.image_size = image_size
        self.dropout = dropout

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "stage_filters": list(self.stage_filters),
            "convs_per_stage": self.convs_per_stage,
            "image_size": self.image_size,
            "dropout": self.dropout,
        }


BackboneFactory = Callable[[int], keras.Model]

# Preset name -> factory(image_size). Larger backbones (ResNet-50, WRN-50-2) join here.
BACKBONES: dict[str, BackboneFactory] = {
    "small_cnn": lambda image_size: SmallConvBackbone((32, 64, 128, 192), 2, image_size, name="small_cnn"),
    "tiny_cnn": lambda image_size: SmallConvBackbone((16, 32, 64), 1, image_size, name="tiny_cnn"),
}


def build_backbone(name: str, image_size: int) -> keras.Model:
    """Builds a registered backbone.

    Raises:
        ValueError: for an unknown name.
    """
    if name not in BACKBONES:
        raise ValueError(f"Unknown backbone {name!r}. Choose one of: {', '.join(sorted(BACKBONES))}.")
    return BACKBONES[name](image_size)
