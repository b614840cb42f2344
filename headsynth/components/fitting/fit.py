"""Fits a morphable model to one photo: pose and shape from 68 landmarks, texture from the colours.

    with FaceMeshLandmarker() as landmarker:
        points = face_landmarks(photo, face_box, landmarker)      # [468, 2] pixels
    fit = fit_photo(model, photo, points, scale=1.6)             # q, expression, pose, residuals

Pose and shape: weak perspective (the photo's camera is unknown), alternating
(1) the pose for the current shape (an affine 3-D to 2-D fit made orthonormal:
scale, rotation, translation) and (2) shape and expression coefficients for
that pose by Tikhonov-regularised linear least squares on the 68 landmarks.
Texture: regularised linear least squares on the photo's colours at the
visible face vertices, projected with the fitted pose. All in numpy; a few
milliseconds per face.

Coordinates: the model's vertices are centred on the mean shape's bounding-box
centre, as `HeadRenderer` centres them, so the pose's translation is where that
centre projects and the rotation is the renderer's (model to camera, +y up,
the face looking along +z).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from matplotlib.path import Path as PolygonPath

from headsynth.core.photos import is_grayscale
from headsynth.morphable.landmarks import ibug68
from headsynth.morphable.model import MorphableModel

# ITU-R BT.601 luma: how a grayscale photo mixes the model's RGB colours.
LUMA = np.array([0.299, 0.587, 0.114])
# iBUG outline of the face: jaw 0-16, then the brows from the left end back to the right.
JAW = list(range(17))
FACE_OUTLINE = list(range(17)) + [26, 25, 24, 23, 22, 21, 20, 19, 18, 17]


@dataclass(frozen=True)
class FitOptions:
    """Settings of `fit_photo` (defaults measured on the packaged photos and on renders).

    Attributes:
        shape_regularisation: Tikhonov weight on the shape q, in mm² of summed squared
            landmark error (68 landmarks, in model millimetres) per unit q². Larger keeps
            the shape nearer the mean.
        expression_regularisation: the same for expression coefficients (sigma units).
        texture_regularisation: Tikhonov weight on the texture q, in mean squared colour
            error (colours in [0, 1]) per unit q².
        iterations: pose/shape alternations.
        fit_expression: fit the model's expression part (if it has one).
        min_facing: a vertex's colour is used if its normal's cosine with the view
            direction is at least this (grazing surfaces are dark and blurred).
        grayscale_texture: for photos whose channels are all equal: "luminance" fits the
            texture to the luma of the model's colours, "mean" leaves it at the mean.
        jaw_weight: weight of the 17 jaw-contour landmarks against 1 for the others. The
            contour is an occluding edge that face-mesh models place least reliably
            (measured on renders: 7.8 px mean error at the jaw, 1.5-2.5 px elsewhere),
            and it pulls pitch and the jaw's shape with it.
    """

    shape_regularisation: float = 30.0
    expression_regularisation: float = 10.0
    texture_regularisation: float = 1e-3
    iterations: int = 10
    fit_expression: bool = True
    min_facing: float = 0.3
    grayscale_texture: str = "luminance"
    jaw_weight: float = 0.25

    def landmark_weights(self) -> np.ndarray:
        """`[68]` the weight of each iBUG landmark in the pose and shape fits."""
        weights = np.ones(68)
        weights[JAW] = self.jaw_weight
        return weights

    def __post_init__(self) -> None:
        if self.grayscale_texture not in ("luminance", "mean"):
            raise ValueError(
                f"grayscale_texture must be 'luminance' or 'mean'. Received: {self.grayscale_texture!r}"
            )
        for name in (
            "shape_regularisation",
            "expression_regularisation",
            "texture_regularisation",
            "jaw_weight",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0. Received: {getattr(self, name)}")


DEFAULT_OPTIONS = FitOptions()


@dataclass(frozen=True)
class WeakPerspectivePose:
    """A weak-perspective camera: pixel = scale * rotation[:2] @ X + translation (y up, then flipped).

    Attributes:
        scale: pixels per millimetre.
        rotation: `[3, 3]` model to camera (x right, y up, z towards the camera).
        translation: `[2]` pixel (x right, y down) where the model's centre projects.
    """

    scale: float
    rotation: np.ndarray
    translation: np.ndarray

    def project(self, points: np.ndarray) -> np.ndarray:
        """`[..., 2]` pixels (x right, y down) of `[..., 3]` centred model points in mm."""
        xy = self.scale * points @ self.rotation[:2].T
        return np.stack([xy[..., 0] + self.translation[0], self.translation[1] - xy[..., 1]], axis=-1)

    def angles_deg(self) -> dict[str, float]:
        """The rotation as the renderer's Euler angles: R = Rz(roll) Ry(yaw) Rx(pitch)."""
        return euler_from_rotation(self.rotation)

    def to_dict(self) -> dict:
        return {
            "scale_px_per_mm": float(self.scale),
            "rotation": self.rotation.tolist(),
            "translation_px": [float(t) for t in self.translation],
            **self.angles_deg(),
        }


@dataclass(frozen=True)
class PhotoFit:
    """The model fitted to one face of a photo.

    Attributes:
        q: `[m]` unscaled shape then texture parameters (the regression target's format).
        expression: `[k]` expression coefficients in sigma units (as `HeadRenderer.render`
            takes them), or None if the model has no expression part or it was not fitted.
        pose: the weak-perspective pose in the photo's pixels.
        landmarks: `[68, 2]` the photo's iBUG landmarks (pixels).
        projected: `[68, 2]` the fitted model's landmarks projected with `pose`.
        residuals: `[68]` distance between the two, in pixels.
        texture_mode: "rgb" (fitted to the colours), "luminance" (grayscale photo: fitted
            to the luma) or "mean" (grayscale photo: texture left at the mean).
        texture_samples: how many vertices' colours the texture was fitted to.
    """

    q: np.ndarray
    expression: np.ndarray | None
    pose: WeakPerspectivePose
    landmarks: np.ndarray
    projected: np.ndarray
    residuals: np.ndarray
    texture_mode: str
    texture_samples: int

    @property
    def mean_residual(self) -> float:
        return float(self.residuals.mean())


def euler_from_rotation(rotation: np.ndarray) -> dict[str, float]:
    """{"yaw_deg", "pitch_deg", "roll_deg"} of a `[3, 3]` rotation R = Rz(roll) Ry(yaw) Rx(pitch)."""
    r = np.asarray(rotation, np.float64)
    yaw = np.arcsin(np.clip(-r[2, 0], -1.0, 1.0))
    pitch = np.arctan2(r[2, 1], r[2, 2])
    roll = np.arctan2(r[1, 0], r[0, 0])
    return {
        "yaw_deg": float(np.degrees(yaw)),
        "pitch_deg": float(np.degrees(pitch)),
        "roll_deg": float(np.degrees(roll)),
    }


def rotation_from_euler(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """`[3, 3]` R = Rz(roll) Ry(yaw) Rx(pitch) for angles in radians (tfg's `from_euler`)."""
    cx, sx, cy, sy, cz, sz = (
        np.cos(pitch),
        np.sin(pitch),
        np.cos(yaw),
        np.sin(yaw),
        np.cos(roll),
        np.sin(roll),
    )
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def model_centre(model: MorphableModel) -> np.ndarray:
    """`[3]` the mean shape's bounding-box centre, the point `HeadRenderer` puts at its shift."""
    mean = model.shape.mean.reshape(-1, 3).astype(np.float64)
    return (mean.min(axis=0) + mean.max(axis=0)) / 2.0


class LandmarkBasis:
    """The model restricted to its 68 landmark vertices: X(q) = mean + shape @ q_s + expression @ q_e.

    All `[68, 3]` (mean) or `[68, 3, k]` (bases), centred like the renderer's vertices, in mm.
    """

    def __init__(self, model: MorphableModel, scale: float, with_expression: bool) -> None:
        rows = (3 * np.asarray(model.landmarks)[:, None] + np.arange(3)).reshape(-1)
        shape = model.shape
        self.mean = shape.mean[rows].astype(np.float64).reshape(-1, 3) - model_centre(model)
        self.shape = (
            (shape.basis[rows] * (scale * shape.sigma))
            .astype(np.float64)
            .reshape(-1, 3, shape.num_components)
        )
        part = model.expression if with_expression else None
        k = part.num_components if part is not None else 0
        self.expression = (
            (part.basis[rows] * part.sigma).astype(np.float64).reshape(-1, 3, k)
            if part is not None
            else np.zeros((len(self.mean), 3, 0))
        )

    def points(self, q_shape: np.ndarray, q_expression: np.ndarray) -> np.ndarray:
        return self.mean + self.shape @ q_shape + self.expression @ q_expression


def weak_perspective_pose(
    points: np.ndarray, landmarks: np.ndarray, weights: np.ndarray | None = None
) -> WeakPerspectivePose:
    """The weak-perspective pose mapping `[L, 3]` centred model points onto `[L, 2]` pixels.

    A weighted affine least-squares fit made orthonormal (the nearest rotation rows, their
    mean singular value as the scale); the third row is the cross product of the first two.
    """
    y = np.asarray(landmarks, np.float64) * [1.0, -1.0]  # y up, like the camera
    w = np.ones(len(points)) if weights is None else np.asarray(weights, np.float64)
    x_mean, y_mean = w @ points / w.sum(), w @ y / w.sum()
    root = np.sqrt(w)[:, None]
    affine, *_ = np.linalg.lstsq(root * (points - x_mean), root * (y - y_mean), rcond=None)  # [3, 2]
    u, singular, vt = np.linalg.svd(affine.T, full_matrices=False)
    rows = u @ vt  # [2, 3] orthonormal
    scale = float(singular.mean())
    rotation = np.vstack([rows, np.cross(rows[0], rows[1])])
    t = y_mean - scale * rows @ x_mean
    return WeakPerspectivePose(scale, rotation, np.array([t[0], -t[1]]))


def fit_shape(
    model: MorphableModel, landmarks: np.ndarray, scale: float = 1.6, options: FitOptions = DEFAULT_OPTIONS
) -> tuple[np.ndarray, np.ndarray, WeakPerspectivePose]:
    """Shape q `[k_s]`, expression `[k_e]` and pose fitted to `[68, 2]` (or 468) landmark pixels."""
    landmarks = ibug68(np.asarray(landmarks, np.float64))
    basis = LandmarkBasis(model, scale, options.fit_expression and model.expression is not None)
    k_s, k_e = basis.shape.shape[-1], basis.expression.shape[-1]
    q = np.zeros(k_s + k_e)
    jacobian_mm = np.concatenate([basis.shape, basis.expression], axis=-1)  # [68, 3, k]
    penalty = np.diag([options.shape_regularisation] * k_s + [options.expression_regularisation] * k_e)
    weights = options.landmark_weights()
    row_weights = np.repeat(weights, 2)  # x and y of each landmark
    for _ in range(max(1, options.iterations)):
        pose = weak_perspective_pose(basis.points(q[:k_s], q[k_s:]), landmarks, weights)
        # Pixels back to model millimetres in the image plane, so the penalty does not depend on the photo's size.
        target = (landmarks - pose.translation) * [1.0, -1.0] / pose.scale  # [68, 2]
        rows = pose.rotation[:2]
        jacobian = np.einsum("ij,ljk->lik", rows, jacobian_mm).reshape(-1, k_s + k_e)
        residual = (target - basis.mean @ rows.T).reshape(-1)
        weighted = jacobian * row_weights[:, None]
        q = np.linalg.solve(weighted.T @ jacobian + penalty, weighted.T @ residual)
    pose = weak_perspective_pose(basis.points(q[:k_s], q[k_s:]), landmarks, weights)
    return q[:k_s], q[k_s:], pose


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """`[V, 3]` unit normals pointing out of a closed mesh (area-weighted over its triangles)."""
    corners = vertices[triangles]  # [T, 3, 3]
    faces = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals = np.zeros_like(vertices)
    for corner in range(3):
        np.add.at(normals, triangles[:, corner], faces)
    # Winding decides the sign: make normals point away from the centroid on average.
    if np.sum(normals * (vertices - vertices.mean(axis=0))) < 0:
        normals = -normals
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)


def visible_face_vertices(
    model: MorphableModel,
    vertices: np.ndarray,
    pose: WeakPerspectivePose,
    landmarks: np.ndarray,
    min_facing: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(`[N]` vertex indices, `[N, 2]` their pixels) of the face region facing the camera.

    The face region is the inside of the photo's landmark outline (jaw and brows);
    facing means the rotated normal's z (towards the camera) is at least `min_facing`.
    """
    pixels = pose.project(vertices)
    facing = vertex_normals(vertices, model.triangles) @ pose.rotation[2] >= min_facing
    inside = PolygonPath(landmarks[FACE_OUTLINE]).contains_points(pixels)
    index = np.flatnonzero(facing & inside)
    return index, pixels[index]


def fit_texture(
    model: MorphableModel,
    photo: np.ndarray,
    vertices: np.ndarray,
    pose: WeakPerspectivePose,
    landmarks: np.ndarray,
    scale: float = 1.6,
    options: FitOptions = DEFAULT_OPTIONS,
) -> tuple[np.ndarray, str, int]:
    """(`[k_t]` texture q, texture mode, number of colour samples) for `[V, 3]` centred fitted vertices."""
    k_t = model.texture.num_components
    gray = is_grayscale(photo)
    if gray and options.grayscale_texture == "mean":
        return np.zeros(k_t), "mean", 0
    index, pixels = visible_face_vertices(model, vertices, pose, landmarks, options.min_facing)
    height, width = photo.shape[:2]
    inside = (
        (pixels[:, 0] >= 0) & (pixels[:, 0] <= width - 1) & (pixels[:, 1] >= 0) & (pixels[:, 1] <= height - 1)
    )
    index, pixels = index[inside], pixels[inside]
    if len(index) < k_t:  # too little of the face in the photo to fit colours: keep the mean
        return np.zeros(k_t), "mean", int(len(index))
    # A light blur: one vertex stands for a few pixels, and JPEG noise should not drive the fit.
    blurred = cv2.GaussianBlur(np.ascontiguousarray(photo), (5, 5), 0).astype(np.float64) / 255.0
    colours = blurred[np.rint(pixels[:, 1]).astype(int), np.rint(pixels[:, 0]).astype(int)]  # [N, 3]
    rows = (3 * index[:, None] + np.arange(3)).reshape(-1)
    part = model.texture
    mean = part.mean[rows].astype(np.float64).reshape(-1, 3)
    basis = (part.basis[rows] * (scale * part.sigma)).astype(np.float64).reshape(-1, 3, k_t)
    if gray:
        jacobian, residual, mode = LUMA @ basis, colours[:, 0] - mean @ LUMA, "luminance"
    else:
        jacobian, residual, mode = basis.reshape(-1, k_t), (colours - mean).reshape(-1), "rgb"
    # Mean squared error per sample plus the penalty: the same weight whatever the face's size.
    samples = len(residual)
    normal = jacobian.T @ jacobian / samples + options.texture_regularisation * np.eye(k_t)
    q_texture = np.linalg.solve(normal, jacobian.T @ residual / samples)
    return q_texture, mode, int(len(index))


def fit_photo(
    model: MorphableModel,
    photo: np.ndarray,
    landmarks: np.ndarray,
    scale: float = 1.6,
    options: FitOptions = DEFAULT_OPTIONS,
) -> PhotoFit:
    """Fits pose, shape (and expression) to a face's landmarks and texture to the photo's colours.

    Args:
        model: the morphable model.
        photo: `[H, W, 3]` uint8 RGB (grayscale photos have three equal channels).
        landmarks: `[468, 2]` mediapipe face-mesh points or `[68, 2]` iBUG landmarks, pixels.
        scale: p = scale * sigma * q.
        options: regularisation and iteration settings.

    Returns:
        The fit: q `[m]`, expression, pose, residuals.
    """
    landmarks = ibug68(np.asarray(landmarks, np.float64))
    if landmarks.shape != (68, 2) or not np.all(np.isfinite(landmarks)):
        raise ValueError(f"Expected finite [68, 2] or [468, 2] landmarks; received {list(landmarks.shape)}.")
    q_shape, q_expression, pose = fit_shape(model, landmarks, scale, options)
    vertices = model.shape.reconstruct(scale * model.shape.sigma * q_shape).astype(np.float64) - model_centre(
        model
    )
    if len(q_expression):
        part = model.expression
        vertices = vertices + ((q_expression * part.sigma) @ part.basis.T).reshape(-1, 3)
    q_texture, mode, samples = fit_texture(model, photo, vertices, pose, landmarks, scale, options)
    projected = pose.project(vertices[model.landmarks])
    return PhotoFit(
        q=np.concatenate([q_shape, q_texture]).astype(np.float32),
        expression=q_expression.astype(np.float32) if len(q_expression) else None,
        pose=pose,
        landmarks=landmarks,
        projected=projected,
        residuals=np.linalg.norm(projected - landmarks, axis=1),
        texture_mode=mode,
        texture_samples=samples,
    )
