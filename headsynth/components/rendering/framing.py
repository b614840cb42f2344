"""Face framing of renders: each render cropped around its face the way photos are cropped.

A network that reads real photos sees them through a face detector's crop
(`identity.detection.FaceFramer`: the short-range detector's box, enlarged
1.5 times, made square). With `rendering.framing = "face"` the renders are
framed by the same code: rendered at `render_size`, the face detected, the
square cropped and resized to `image_size`. A render whose face the detector
misses (rare: extreme light or pose) is cropped around its projected
landmarks instead, the square sized as the detector's would be.
"""

from __future__ import annotations

import cv2
import numpy as np

from headsynth.components.identity.detection import (
    FACE_CROP_ENLARGE,
    FaceFramer,
    FaceNotFound,
    crop_transform,
)
from headsynth.components.rendering.renderer import RenderedBatch

FRAMINGS = ("full", "face")

# The detector's box against the landmarks' box (jaw, brows, chin) of the same
# render, medians over 256 renders of the `portrait` scenario at 192x192 (the
# detector found all 256): its side is 1.08 times the landmarks' larger side,
# and its centre lies 0.074 of that side higher (it covers the forehead). They
# place the fallback crop where the detector's would be.
LANDMARK_BOX_TO_DETECTOR_BOX = 1.08
DETECTOR_CENTRE_ABOVE_LANDMARKS = 0.074


def landmark_square(landmarks: np.ndarray) -> tuple[tuple[float, float], float]:
    """(centre, side) of the face crop from `[L, 2]` projected landmarks."""
    low, high = landmarks.min(axis=0), landmarks.max(axis=0)
    extent = float((high - low).max())
    centre_x, centre_y = (low + high) / 2.0
    centre_y -= DETECTOR_CENTRE_ABOVE_LANDMARKS * extent
    return (float(centre_x), float(centre_y)), extent * LANDMARK_BOX_TO_DETECTOR_BOX * FACE_CROP_ENLARGE


def crop_square_of(image: np.ndarray, landmarks: np.ndarray, framer: FaceFramer):
    """(centre, side, detected) of one render's face crop: the detector's, else the landmarks'."""
    try:
        centre, side = framer.square(image)
        return centre, side, True
    except FaceNotFound:
        centre, side = landmark_square(landmarks)
        return centre, side, False


def _warp(array: np.ndarray, matrix: np.ndarray, size: int, nearest: bool) -> np.ndarray:
    """The crop of one array; outside the render, pictures repeat their edge and masks/depth are 0."""
    if nearest:
        flags, border = cv2.INTER_NEAREST, cv2.BORDER_CONSTANT
    else:
        flags = cv2.INTER_AREA if matrix[0, 0] < 1 else cv2.INTER_LINEAR
        border = cv2.BORDER_REPLICATE
    return cv2.warpAffine(array, matrix, (size, size), flags=flags, borderMode=border, borderValue=0)


def frame_batch(
    batch: RenderedBatch, framer: FaceFramer, image_size: int
) -> tuple[RenderedBatch, np.ndarray]:
    """Crops every render of a batch around its face and resizes it to `image_size`.

    Args:
        batch: renders `[B, R, R, 3]` with masks, optional depth, landmarks `[B, L, 2]`.
        framer: the face framer.
        image_size: side of the crops.

    Returns:
        (the framed batch, `[B]` bool: whether the detector found the face).
    """
    images, masks, depths, landmarks, detected = [], [], [], [], []
    for index, image in enumerate(batch.images):
        centre, side, found = crop_square_of(image, batch.landmarks[index], framer)
        matrix = crop_transform(centre, side, image_size)
        images.append(_warp(image, matrix, image_size, nearest=False))
        masks.append(
            _warp(batch.masks[index].astype(np.uint8), matrix, image_size, nearest=True).astype(bool)
        )
        if batch.depth is not None:
            depths.append(_warp(batch.depth[index], matrix, image_size, nearest=True))
        points = batch.landmarks[index] @ matrix[:, :2].T + matrix[:, 2]
        landmarks.append(points.astype(np.float32))
        detected.append(found)
    framed = RenderedBatch(
        images=np.stack(images),
        masks=np.stack(masks),
        depth=np.stack(depths) if depths else None,
        landmarks=np.stack(landmarks),
    )
    return framed, np.array(detected)
