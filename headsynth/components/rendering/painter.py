"""Renders heads of given q for figures and previews, and decodes stored example images."""

from __future__ import annotations

import cv2
import numpy as np

from headsynth.components.rendering.renderer import HeadRenderer
from headsynth.components.rendering.scenarios import get_scenario
from headsynth.core.errors import DataError


def decode_masks(encoded: list[bytes]) -> np.ndarray:
    """`[B, S, S]` float32 head masks (1 on the head) from the render job's PNG masks."""
    masks = []
    for data in encoded:
        mask = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
        if mask is None:
            raise DataError("An example's mask bytes are not a PNG.")
        masks.append(mask > 127)
    return np.stack(masks).astype(np.float32)


def resize_masks(masks: np.ndarray, size: int) -> np.ndarray:
    """`[B, S, S]` masks resized to `[B, size, size]` (area average: edge pixels get fractions)."""
    return np.stack([cv2.resize(m, (size, size), interpolation=cv2.INTER_AREA) for m in masks])


def decode_images(encoded: list[bytes], image_size: int | None = None) -> np.ndarray:
    """`[B, S, S, 3]` uint8 RGB from encoded PNG/JPEG bytes (resized to image_size if given)."""
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
