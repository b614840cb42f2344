"""A reconstruction drawn in the photo's pose over the photo, and its landmark error.

    pose = fit_crop_pose(model, q, crop_landmarks, image_size=256)            # or any predicted factors
    shown = render_in_photo_pose(renderer, q, crop, pose.factors)             # [256, 256, 3] overlay
    error = landmark_error(shown.landmarks, ibug68(crop_landmarks))           # / inter-ocular distance

`overlay_in_photo_pose` does the three steps for one face crop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from headsynth.components.fitting.pose import fit_crop_pose
from headsynth.components.rendering.renderer import HeadRenderer
from headsynth.morphable.landmarks import ibug68, inter_ocular_distance


@dataclass(frozen=True)
class PoseOverlay:
    """A head rendered in a photo crop's pose.

    Attributes:
        image: `[S, S, 3]` uint8 the crop with the head alpha-blended over it.
        rendering: `[S, S, 3]` uint8 the head alone (gray background).
        mask: `[S, S]` bool where the head covers the crop.
        landmarks: `[68, 2]` the head's landmarks as drawn (pixels).
        factors: the scene factors it was drawn with.
        landmark_error: mean landmark distance / the photo's inter-ocular distance (None if
            no photo landmarks were given).
    """

    image: np.ndarray
    rendering: np.ndarray
    mask: np.ndarray
    landmarks: np.ndarray
    factors: dict[str, float]
    landmark_error: float | None = None


def landmark_error(landmarks: np.ndarray, photo_landmarks: np.ndarray) -> float:
    """Mean distance between `[68, 2]` landmarks and the photo's, over the photo's outer-eye-corner distance."""
    photo = ibug68(np.asarray(photo_landmarks, np.float64))
    distances = np.linalg.norm(ibug68(np.asarray(landmarks, np.float64)) - photo, axis=-1)
    return float(distances.mean() / max(float(inter_ocular_distance(photo)), 1e-9))


def render_in_photo_pose(
    renderer: HeadRenderer,
    q: np.ndarray,
    crop: np.ndarray,
    factors: dict[str, float],
    expression: np.ndarray | None = None,
    alpha: float = 0.6,
) -> PoseOverlay:
    """Renders `[m]` q with `factors` at the crop's size and alpha-blends it over the `[S, S, 3]` crop."""
    if crop.shape[:2] != (renderer.image_size, renderer.image_size):
        raise ValueError(f"The crop is {crop.shape[:2]}; the renderer draws {renderer.image_size}² images.")
    batch = renderer.render(
        np.asarray(q, np.float32)[None],
        [factors],
        expression=None if expression is None else np.asarray(expression)[None],
    )
    mask = batch.masks[0]
    weight = alpha * mask[..., None].astype(np.float32)
    image = np.clip(np.rint(crop * (1.0 - weight) + batch.images[0] * weight), 0, 255).astype(np.uint8)
    return PoseOverlay(image, batch.images[0], mask, batch.landmarks[0], dict(factors))


def overlay_in_photo_pose(
    renderer: HeadRenderer,
    q: np.ndarray,
    crop: np.ndarray,
    crop_landmarks: np.ndarray,
    expression: np.ndarray | None = None,
    alpha: float = 0.6,
) -> PoseOverlay:
    """Fits the pose of head q to the crop's landmarks, draws it over the crop, and scores the landmarks.

    Args:
        renderer: draws at the crop's size (its model and scale are used for the pose too).
        q: `[m]` the reconstruction's unscaled parameters (e.g. a network's prediction).
        crop: `[S, S, 3]` uint8 the square face crop.
        crop_landmarks: `[468, 2]` or `[68, 2]` the face's landmarks in crop pixels.
        expression: `[k]` expression coefficients (sigma units) or None for neutral.
        alpha: the head's opacity over the photo.

    Returns:
        The overlay, with the fitted factors and the landmark error.
    """
    pose = fit_crop_pose(renderer.model, q, crop_landmarks, renderer.image_size, renderer.scale, expression)
    shown = render_in_photo_pose(renderer, q, crop, pose.factors, expression, alpha)
    error = landmark_error(shown.landmarks, crop_landmarks)
    return PoseOverlay(shown.image, shown.rendering, shown.mask, shown.landmarks, shown.factors, error)
