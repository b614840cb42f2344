"""The 68 iBUG landmarks of the built-in model as mediapipe face-mesh points.

The built-in model's face was built from mediapipe's 468-point face mesh, so
each of its 68 landmarks (iBUG order) *is* one mediapipe point: the photo
fitter reads a photo's 68 landmarks from mediapipe's mesh with this table, and
the model builder (`scripts/builtin_face_model/`) picks its landmark vertices
with it.
"""

from __future__ import annotations

import numpy as np

# iBUG 68-point order (jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth 48-67)
# as mediapipe points; the subject's right side comes first, as in iBUG.
IBUG68_FROM_MEDIAPIPE = [
    127, 234, 132, 58, 172, 150, 149, 148, 152, 377, 378, 379, 397, 288, 361, 454, 356,
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
    168, 197, 5, 4, 75, 97, 2, 326, 305,
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181, 78, 82, 13, 312, 308, 317, 14, 87,
]  # fmt: skip

# Outer eye corners in iBUG order (the subject's right eye, then the left): the
# inter-ocular distance that normalises landmark errors (as in 300-W).
RIGHT_EYE_OUTER = 36
LEFT_EYE_OUTER = 45
MEDIAPIPE_MESH_POINTS = 468


def ibug68(points: np.ndarray) -> np.ndarray:
    """`[..., 68, 2]` iBUG landmarks from `[..., 468 or 478, 2]` mediapipe points (68 pass through)."""
    points = np.asarray(points)
    if points.shape[-2] == 68:
        return points
    if points.shape[-2] < MEDIAPIPE_MESH_POINTS:
        raise ValueError(f"Expected 68 or at least 468 landmarks; received {points.shape[-2]}.")
    return points[..., IBUG68_FROM_MEDIAPIPE, :]


def inter_ocular_distance(landmarks: np.ndarray) -> np.ndarray:
    """`[...]` distance between the outer eye corners of `[..., 68, D]` iBUG landmarks."""
    landmarks = np.asarray(landmarks, np.float64)
    return np.linalg.norm(landmarks[..., LEFT_EYE_OUTER, :] - landmarks[..., RIGHT_EYE_OUTER, :], axis=-1)
