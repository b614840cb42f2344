"""A head's pose in a square image as the renderer's scene factors, fitted to landmarks.

    pose = fit_crop_pose(model, q, crop_landmarks, image_size=256, scale=1.6)
    batch = HeadRenderer(model, 256).render(q[None], [pose.factors])   # the head in the photo's pose

`HeadRenderer`'s camera is a perspective one (focal length in 35 mm terms,
principal point at the image centre) and the head's centre sits at
(shift_x, shift_y) * half the field's extent, `distance_mm` in front of it,
rotated by R = Rz(roll) Ry(yaw) Rx(pitch). The weak-perspective pose of the
photo fit starts the search; Levenberg-Marquardt then fits yaw, pitch, roll,
shift and distance (focal length held) to the 68 landmarks with exactly the
renderer's projection (`project_landmarks`, checked against its output in the tests).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from headsynth.components.fitting.fit import (
    FitOptions,
    LandmarkBasis,
    WeakPerspectivePose,
    rotation_from_euler,
    weak_perspective_pose,
)
from headsynth.components.rendering.renderer import SENSOR_MM
from headsynth.components.rendering.scenarios import get_scenario
from headsynth.morphable.landmarks import ibug68
from headsynth.morphable.model import MorphableModel

POSE_FACTORS = ("yaw_deg", "pitch_deg", "roll_deg", "focal_mm", "distance_mm", "shift_x", "shift_y")


@dataclass(frozen=True)
class CropPose:
    """A head's pose in a square image, as renderer factors.

    Attributes:
        factors: a complete scene-factor dict (the base factors with the pose's replaced).
        projected: `[68, 2]` the head's landmarks projected with `factors` (pixels).
        residuals: `[68]` their distances to the landmarks the pose was fitted to (pixels).
    """

    factors: dict[str, float]
    projected: np.ndarray
    residuals: np.ndarray

    def pose_dict(self) -> dict[str, float]:
        """Only the pose factors (angles, focal length, distance, shift)."""
        return {name: float(self.factors[name]) for name in POSE_FACTORS}


def base_factors() -> dict[str, float]:
    """Scenario *none*'s factors (gray background, white light, 50 mm lens): the pose goes on top."""
    return dict(get_scenario("none").sample(0, "eval", 0))


def landmark_points(
    model: MorphableModel, q: np.ndarray, scale: float = 1.6, expression: np.ndarray | None = None
) -> np.ndarray:
    """`[68, 3]` the landmark vertices of `[m]` q, centred as the renderer centres them (mm)."""
    q = np.asarray(q, np.float64)
    with_expression = expression is not None and model.expression is not None
    basis = LandmarkBasis(model, scale, with_expression)
    q_shape, _ = model.split(q)
    q_expression = np.asarray(expression, np.float64) if with_expression else np.zeros(0)
    return basis.points(q_shape, q_expression)


def project_landmarks(points: np.ndarray, factors: dict[str, float], image_size: int) -> np.ndarray:
    """`[L, 2]` pixels (x right, y down) where the renderer draws `[L, 3]` centred points under `factors`."""
    tan_half = SENSOR_MM / 2.0 / factors["focal_mm"]  # tan(fov / 2)
    distance = factors["distance_mm"]
    half_extent = distance * tan_half
    rotation = rotation_from_euler(
        *np.radians([factors["pitch_deg"], factors["yaw_deg"], factors["roll_deg"]])
    )
    camera = points @ rotation.T + [
        factors["shift_x"] * half_extent,
        factors["shift_y"] * half_extent,
        -distance,
    ]
    ndc = camera[:, :2] / (-camera[:, 2:3] * tan_half)
    return np.stack([(ndc[:, 0] + 1.0), (1.0 - ndc[:, 1])], axis=-1) * (0.5 * image_size)


def initial_factors(
    pose: WeakPerspectivePose, points: np.ndarray, image_size: int, focal_mm: float
) -> dict[str, float]:
    """Factors that reproduce a weak-perspective pose (in the image's pixels) at the landmarks' depth."""
    f_px = 0.5 * image_size * focal_mm / (SENSOR_MM / 2.0)
    # Under weak perspective the scale is that of the landmarks' depth, which lies in front of the centre.
    depth_in_front = float((points @ pose.rotation[2]).mean())
    distance = f_px / pose.scale + depth_in_front
    half = 0.5 * image_size
    return {
        **pose.angles_deg(),
        "focal_mm": float(focal_mm),
        "distance_mm": float(distance),
        "shift_x": float(pose.translation[0] / half - 1.0),
        "shift_y": float(1.0 - pose.translation[1] / half),
    }


def fit_crop_pose(
    model: MorphableModel,
    q: np.ndarray,
    landmarks: np.ndarray,
    image_size: int,
    scale: float = 1.6,
    expression: np.ndarray | None = None,
    factors: dict[str, float] | None = None,
    weights: np.ndarray | None = None,
) -> CropPose:
    """The renderer factors that put head `q` onto a square image's landmarks.

    Args:
        model: the morphable model.
        q: `[m]` the head's unscaled parameters (fitted, or a network's prediction).
        landmarks: `[68, 2]` or `[468, 2]` landmark pixels in the square image.
        image_size: the image's side in pixels (the renderer's `image_size`).
        scale: p = scale * sigma * q.
        expression: `[k]` expression coefficients (sigma units) or None for neutral.
        factors: base scene factors (light, background, focal length ...); default scenario *none*'s.
        weights: `[68]` landmark weights (default `FitOptions().landmark_weights()`: the jaw less).

    Returns:
        The pose: full factors, projected landmarks and residuals in pixels.
    """
    target = ibug68(np.asarray(landmarks, np.float64))
    points = landmark_points(model, q, scale, expression)
    base = dict(factors) if factors is not None else base_factors()
    weights = FitOptions().landmark_weights() if weights is None else np.asarray(weights, np.float64)
    start = initial_factors(
        weak_perspective_pose(points, target, weights), points, image_size, base["focal_mm"]
    )
    root = np.sqrt(weights)[:, None]

    def unpack(x: np.ndarray) -> dict[str, float]:
        pitch, yaw, roll, shift_x, shift_y, distance_m = x
        return {
            **start,
            "pitch_deg": pitch,
            "yaw_deg": yaw,
            "roll_deg": roll,
            "shift_x": shift_x,
            "shift_y": shift_y,
            "distance_mm": 1000.0 * distance_m,
        }

    def residual(x: np.ndarray) -> np.ndarray:
        return (root * (project_landmarks(points, unpack(x), image_size) - target)).reshape(-1)

    x0 = [start[k] for k in ("pitch_deg", "yaw_deg", "roll_deg", "shift_x", "shift_y")]
    x0.append(max(start["distance_mm"], 1.0) / 1000.0)
    solution = least_squares(residual, np.array(x0), method="lm", x_scale=[10, 10, 10, 0.1, 0.1, 0.1])
    pose = {k: float(v) for k, v in unpack(solution.x).items()}
    projected = project_landmarks(points, pose, image_size)
    return CropPose({**base, **pose}, projected, np.linalg.norm(projected - target, axis=1))


def photo_to_crop(
    points: np.ndarray, centre: tuple[float, float], side: float, image_size: int
) -> np.ndarray:
    """`[..., 2]` photo pixels mapped into the square crop `square_crop(photo, centre, side, image_size)`."""
    return (np.asarray(points, np.float64) - (np.asarray(centre) - side / 2.0)) * (image_size / side)
