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

import os

import numpy as np

from headsynth.errors import DataError


def load_keras_regressor(path: str):
    """Loads `regressor.keras` (without its optimizer state).

    Raises:
        DataError: if the file is missing or cannot be loaded.
    """
    import keras

    import headsynth.models.regressor  # noqa: F401  (registers the custom layers)

    if not os.path.isfile(path):
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
    import tensorflow as tf

    x = tf.convert_to_tensor(np.asarray(images, np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        q = model(x, training=False)
        target = tf.reduce_sum(q[:, parameter])  # examples are independent: sum keeps per-example gradients
    gradient = tape.gradient(target, x)
    return np.max(np.abs(gradient.numpy()), axis=-1), q.numpy()


def decode_images(encoded: list[bytes], image_size: int | None = None) -> np.ndarray:
    """`[B, S, S, 3]` uint8 RGB from encoded PNG/JPEG bytes (resized to image_size if given)."""
    import cv2

    images = []
    for data in encoded:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise DataError("An example's image bytes are not a PNG or JPEG.")
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        if image_size and image.shape[:2] != (image_size, image_size):
            image = cv2.resize(image, (image_size, image_size), interpolation=cv2.INTER_AREA)
        images.append(image)
    return np.stack(images)


class HeadPainter:
    """Renders heads of one model in scenario *none* (gray background), optionally at another yaw.

    Keeps one renderer per image size so the rasteriser graph is traced once.

    Args:
        model: the morphable model.
        scale: p = scale * sigma * q.
        batch_size: meshes per rasteriser call (batches are padded to it).
    """

    def __init__(self, model, scale: float = 1.6, batch_size: int = 16) -> None:
        self.model = model
        self.scale = scale
        self.batch_size = batch_size
        self._renderers = {}

    def render(self, q: np.ndarray, image_size: int, yaw_deg: float | None = None) -> np.ndarray:
        """`[B, S, S, 3]` uint8 renders of `[B, m]` q (yaw None: the scenario's own, ~45 degrees)."""
        return self.render_with_masks(q, image_size, yaw_deg)[0]

    def render_with_masks(self, q: np.ndarray, image_size: int, yaw_deg: float | None = None):
        """(`[B, S, S, 3]` uint8 renders, `[B, S, S]` bool head masks)."""
        from headsynth.components.rendering.renderer import HeadRenderer
        from headsynth.components.rendering.scenarios import get_scenario

        if image_size not in self._renderers:
            self._renderers[image_size] = HeadRenderer(self.model, image_size, self.scale)
        renderer = self._renderers[image_size]
        q = np.atleast_2d(np.asarray(q, np.float32))
        factors = dict(get_scenario("none").sample(0, "eval", 0))
        if yaw_deg is not None:
            factors["yaw_deg"] = float(yaw_deg)
        images, masks = [], []
        for start in range(0, len(q), self.batch_size):
            chunk = q[start : start + self.batch_size]
            batch = renderer.render(chunk, [factors] * len(chunk), pad_to=self.batch_size)
            images.append(batch.images)
            masks.append(batch.masks)
        return np.concatenate(images), np.concatenate(masks)
