"""Fits every face of many photos and writes them as one parameter file.

fits, problems = fit_photos(model, ["skimage:astronaut", "me.jpg"], scale=1.6)
save_fits("vectors.npz", fits, scale=1.6)     # loadable by load_parameter_file (key q)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from headsynth.components.fitting.fit import DEFAULT_OPTIONS, FitOptions, PhotoFit, fit_photo
from headsynth.components.fitting.landmarks import FaceMeshLandmarker, face_landmarks
from headsynth.components.identity.detection import FaceBox, FaceDetector, FaceNotFound
from headsynth.core.io_utils import save_npz
from headsynth.core.photos import load_photo
from headsynth.morphable.model import MorphableModel


@dataclass(frozen=True)
class FaceFit:
    """One fitted face: where it came from and the fit."""

    name: str
    face: FaceBox
    fit: PhotoFit
    seconds: float


def fit_photos(
    model: MorphableModel,
    specs: list[str],
    scale: float = 1.6,
    options: FitOptions = DEFAULT_OPTIONS,
    report: Callable[[str], None] | None = None,
) -> tuple[list[FaceFit], list[str]]:
    """Fits every detected face of every photo (files or `skimage:NAME`).

    All photos are read first, so an unreadable one fails before any work is done.

    Returns:
        The fits (photo order, then the detector's order) and one line per photo or
        face that was skipped (no face found).

    Raises:
        ImageReadError: for a missing or undecodable photo.
    """
    photos = [(spec, load_photo(spec)[0]) for spec in specs]
    fits, problems = [], []
    with FaceDetector() as detector, FaceMeshLandmarker() as landmarker:
        for spec, photo in photos:
            faces = detector.detect_all(photo)
            if not faces:
                height, width = photo.shape[:2]
                problems.append(f"{spec}: no face found ({width}x{height} pixels); skipped.")
            for k, face in enumerate(faces):
                name = spec if len(faces) == 1 else f"{spec}#{k}"
                start = time.perf_counter()
                try:
                    points = face_landmarks(photo, face, landmarker, f"photo {spec}")
                except FaceNotFound as error:
                    problems.append(f"{name}: {error}; skipped.")
                    continue
                fit = fit_photo(model, photo, points, scale, options)
                fits.append(FaceFit(name, face, fit, time.perf_counter() - start))
                if report is not None:
                    report(describe(fits[-1]))
    return fits, problems


def describe(face_fit: FaceFit) -> str:
    """One line: name, box, angles, residual, texture mode, time."""
    fit, angles = face_fit.fit, face_fit.fit.pose.angles_deg()
    box = ", ".join(
        f"{v:.0f}" for v in (face_fit.face.x0, face_fit.face.y0, face_fit.face.x1, face_fit.face.y1)
    )
    return (
        f"{face_fit.name}: box [{box}], yaw {angles['yaw_deg']:.1f} pitch {angles['pitch_deg']:.1f} "
        f"roll {angles['roll_deg']:.1f} deg, landmark residual {fit.mean_residual:.2f} px "
        f"(max {fit.residuals.max():.2f}), texture {fit.texture_mode}, {1000 * face_fit.seconds:.0f} ms"
    )


def save_fits(path: str, fits: list[FaceFit], scale: float) -> None:
    """Writes the fits as a parameter file (`q` `[N, m]`) with per-face arrays, atomically."""
    angles = [f.fit.pose.angles_deg() for f in fits]
    k_e = max((len(f.fit.expression) for f in fits if f.fit.expression is not None), default=0)
    expression = np.zeros((len(fits), k_e), np.float32)
    for row, f in enumerate(fits):
        if f.fit.expression is not None:
            expression[row] = f.fit.expression
    save_npz(
        path,
        compress=True,
        q=np.stack([f.fit.q for f in fits]).astype(np.float32),
        names=np.array([f.name for f in fits]),
        boxes=np.array([[f.face.x0, f.face.y0, f.face.x1, f.face.y1] for f in fits], np.float32),
        expression=expression,
        angles_deg=np.array([[a["yaw_deg"], a["pitch_deg"], a["roll_deg"]] for a in angles], np.float32),
        pose_scale=np.array([f.fit.pose.scale for f in fits], np.float32),
        pose_translation=np.array([f.fit.pose.translation for f in fits], np.float32),
        residuals=np.stack([f.fit.residuals for f in fits]).astype(np.float32),
        texture_mode=np.array([f.fit.texture_mode for f in fits]),
        scale=np.array(scale, np.float32),
    )
