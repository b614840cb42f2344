"""A small CNN backbone for the CPU presets (tiny_cnn, small_cnn)."""

from __future__ import annotations

import keras

from headsynth.models.backbones.checks import check_image_size, check_positive_int, check_positive_ints


@keras.saving.register_keras_serializable(package="headsynth")
class SmallConvBackbone(keras.Model):
    """A small CNN: stride-2 conv/BN/ReLU stages, then global pooling.

    Maps `[B, image_size, image_size, 3]` images to `[B, stage_filters[-1]]`
    features. Blocks are the stages (`stage0`, `stage1`, ...).

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
        check_positive_ints("stage_filters", stage_filters)
        check_positive_int("convs_per_stage", convs_per_stage)
        check_image_size(image_size, 2 ** len(stage_filters))
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout}")

        # === Functional model ===
        inputs = keras.Input(shape=(image_size, image_size, 3), name="images")
        x = inputs
        for stage, filters in enumerate(stage_filters):
            x = _conv_stage(x, filters, convs_per_stage, name=f"stage{stage}")
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


def _conv_stage(x, filters: int, convs: int, name: str):
    """`convs` 3x3 conv/BN/ReLU, the first with stride 2: `[B, H, W, C]` -> `[B, H/2, W/2, filters]`."""
    for conv in range(convs):
        x = keras.layers.Conv2D(
            filters,
            3,
            strides=2 if conv == 0 else 1,
            padding="same",
            use_bias=False,
            name=f"{name}_conv{conv}",
        )(x)
        x = keras.layers.BatchNormalization(name=f"{name}_bn{conv}")(x)
        x = keras.layers.ReLU(name=f"{name}_relu{conv}")(x)
    return x
