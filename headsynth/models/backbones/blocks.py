"""Backbone blocks: which block a layer belongs to, and training a backbone from block N on.

Backbones expose `block_names`: the ordered name prefixes of their blocks
(block 0 is the input stem).
"""

from __future__ import annotations

import keras


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
