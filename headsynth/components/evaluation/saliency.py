"""Saliency (the paper's Fig. 9) and the re-renders of prediction and truth.

Saliency is the gradient of the first (most important) predicted parameter
with respect to the input pixels, computed by backpropagation through the
Keras model (`regressor.keras`, which `train_regressor` saves beside its
TensorBoard logs, i.e. in the Trainer's `model_run` artifact). The exported
SavedModel is not used for this: its signatures start from encoded image
bytes, through which no gradient flows. A pixel's saliency is the largest
absolute gradient over its three colour channels (Simonyan et al. 2014).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

import headsynth.models.regressor  # noqa: F401  (registers the custom layers for loading)
from headsynth.core.errors import DataError


def load_keras_regressor(path: str):
    """Loads `regressor.keras` (without its optimizer state).

    Raises:
        DataError: if the file is missing or cannot be loaded.
    """
    if not tf.io.gfile.exists(path) or tf.io.gfile.isdir(path):
        raise DataError(
            f"Keras model {path} does not exist.",
            "Saliency needs regressor.keras from the training logs (train_regressor's log_dir).",
        )
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as error:  # noqa: BLE001 - report any loading failure as a data error
        raise DataError(f"Cannot load the Keras model {path}: {error}") from None


def saliency_maps(model, images: np.ndarray, parameter: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gradient of q[parameter] w.r.t. the input, as max |.| over colour channels.

    Args:
        model: the Keras regressor (`[B, S, S, 3]` 0..255 images -> `[B, m]` q).
        images: `[B, S, S, 3]` images, uint8 or float in 0..255, at the model's input size.
        parameter: which output to explain (the paper: the first).

    Returns:
        (`[B, S, S]` saliency, `[B, m]` predicted q).
    """
    x = tf.convert_to_tensor(np.asarray(images, np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        q = model(x, training=False)
        target = tf.reduce_sum(q[:, parameter])  # examples are independent: sum keeps per-example gradients
    gradient = tape.gradient(target, x)
    return np.max(np.abs(gradient.numpy()), axis=-1), q.numpy()
