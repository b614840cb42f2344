"""The morphable model as a Keras layer: q -> mesh vertices and colours inside the graph.

The exported SavedModel uses it to return reconstructed meshes on request
without the client holding the model's basis.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from headsynth.morphable.model import MorphableModel


class MorphableMeshDecoder(keras.layers.Layer):
    """`[B, m]` unscaled q -> `[B, V, 3]` vertices and `[B, V, 3]` RGB in [0, 1].

    Computes `mean + basis @ (scale * sigma * q_part)` per part, as
    `MorphableModel.vertices` / `.colors` do in numpy. The model's arrays are
    non-trainable weights, so they live in the SavedModel's variables rather
    than as graph constants (which cap a GraphDef at 2 GB).

    Args:
        face_model: the morphable model.
        scale: p = scale * sigma * q (the paper: 1.6).
    """

    def __init__(self, face_model: MorphableModel, scale: float = 1.6, **kwargs) -> None:
        super().__init__(**kwargs)
        if not scale > 0:
            raise ValueError(f"`scale` must be positive. Received: scale={scale}")
        self.scale = float(scale)
        self.num_shape = face_model.shape.num_components
        self.num_vertices = face_model.num_vertices
        self.parts = {}
        for part_name, part in (("shape", face_model.shape), ("texture", face_model.texture)):
            weights = []
            for array_name, array in (("mean", part.mean), ("basis", part.basis), ("sigma", part.sigma)):
                weight = self.add_weight(
                    name=f"{part_name}_{array_name}", shape=array.shape, initializer="zeros", trainable=False
                )
                weight.assign(np.asarray(array, np.float32))
                weights.append(weight)
            self.parts[part_name] = tuple(weights)
        # The weights are fixed by the face model, not by an input shape: nothing is left to build.
        self.built = True

    def _reconstruct(self, part_name: str, q_part):
        mean, basis, sigma = self.parts[part_name]
        flat = mean + ops.matmul(self.scale * sigma * q_part, ops.transpose(basis))
        return ops.reshape(flat, (-1, self.num_vertices, 3))

    def call(self, q):
        q = ops.cast(q, "float32")
        vertices = self._reconstruct("shape", q[:, : self.num_shape])
        colors = ops.clip(self._reconstruct("texture", q[:, self.num_shape :]), 0.0, 1.0)
        return vertices, colors
