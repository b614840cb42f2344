"""Reconstruct a head from a photograph: detect and crop the face, predict, write mesh and preview.

    regressor = load_regressor("runs/quickstart")          # a run, study net or SavedModel folder
    with PhotoPredictor(regressor) as predictor:
        result = predictor.predict(read_image("me.jpg"), "out/", "me")

The crop: mediapipe's face box is placed where a frontal rendering of the
model's mean head sits in the renders the network was trained on (measured
once by detecting the face in such a rendering), so the photo's face is
framed like the training data. The crop goes through the SavedModel's
`serving_default` signature as PNG bytes (the graph resizes it to the
network's input size).

Outputs per photo (`<stem>` = the photo's file name without suffix):
    <stem>.obj, <stem>.ply      the predicted head, per-vertex colours, millimetres
    <stem>_preview.png          input crop | the prediction in the photo's pose over the crop | frontal view
    <stem>.json                 q, face box, identity score and corrected score, the pose fitted to
                                the photo's landmarks (renderer factors) and the landmark error, file paths

The pose: mediapipe's face mesh gives the crop's 68 landmarks; the pose that puts
the predicted head onto them is fitted (`headsynth.components.fitting`), and the
landmark error is the mean distance between the head's projected landmarks and
the photo's, over the photo's outer-eye-corner distance.
"""

from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass, field

import cv2
import numpy as np
import tensorflow as tf

from headsynth.components.face_model.export import export_mesh
from headsynth.components.fitting.landmarks import FaceMeshLandmarker, face_landmarks
from headsynth.components.fitting.overlay import PoseOverlay, overlay_in_photo_pose
from headsynth.components.fitting.pose import POSE_FACTORS, photo_to_crop
from headsynth.components.identity.detection import (
    FaceBox,
    FaceDetector,
    FaceFramer,
    FaceNotFound,
    Framing,
    face_crop_square,
    framing_of,
    square_crop,
)
from headsynth.components.identity.scores import (
    IdentityScorer,
    corrected_score,
    cosine_similarity,
    instance_sigma,
)
from headsynth.components.rendering.painter import HeadPainter
from headsynth.components.rendering.renderer import HeadRenderer
from headsynth.core.errors import DataError, ModelFileError
from headsynth.core.io_utils import atomic_path, write_text_atomic
from headsynth.data_schemas.serving_assets import read_input_framing
from headsynth.morphable.loading import load_model
from headsynth.morphable.model import MorphableModel, load_npz


@dataclass
class LoadedRegressor:
    """A SavedModel ready to predict, with the face model its q belongs to.

    Attributes:
        saved_model_dir: the SavedModel folder.
        predict_fn: `serving_default` (images: [B] string -> dict with "q").
        face_model: the morphable model.
        scale: p = scale * sigma * q.
        face_model_source: where the face model came from (for messages).
        framing: how the training images were framed: "full" renders or "face" crops
            (`data_schemas.serving_assets`); photos are cropped to match.
    """

    saved_model_dir: str
    predict_fn: object
    face_model: MorphableModel
    scale: float
    face_model_source: str
    framing: str = "full"

    def predict(self, encoded_images: list[bytes]) -> np.ndarray:
        return self.predict_fn(images=tf.constant(encoded_images))["q"].numpy()


def _is_saved_model(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "saved_model.pb"))


def _newest(paths: list[str]) -> str | None:
    paths = [p for p in paths if _is_saved_model(p)]
    return max(paths, key=os.path.getmtime) if paths else None


def resolve_saved_model(model_dir: str) -> tuple[str, dict]:
    """(SavedModel folder, the run's config dict or {}) for a SavedModel, run, or study-net folder.

    Raises:
        DataError: if no SavedModel is found.
    """
    model_dir = os.path.abspath(model_dir)
    config = {}
    for candidate in (model_dir, os.path.dirname(model_dir), os.path.dirname(os.path.dirname(model_dir))):
        config_path = os.path.join(candidate, "config.json")
        if os.path.isfile(config_path):
            with open(config_path) as f:
                config = json.load(f)
            break
    if _is_saved_model(model_dir):
        return model_dir, config
    found = _newest(
        glob.glob(os.path.join(model_dir, "serving", "*", "*"))  # a run: the pushed versions
        + glob.glob(os.path.join(model_dir, "pipeline_root", "Trainer", "model", "*", "Format-Serving"))
        + [os.path.join(model_dir, "serving")]  # a study's net folder
        + glob.glob(os.path.join(model_dir, "*"))  # a TF Serving base path: versions
    )
    if found is None:
        raise DataError(
            f"No SavedModel under {model_dir}.",
            "Pass a SavedModel folder (with saved_model.pb), a `headsynth run` output folder, "
            "or a network folder of a study (nets/<scenario>).",
        )
    return found, config


def load_regressor(
    model_dir: str, face_model_path: str | None = None, scale: float | None = None
) -> LoadedRegressor:
    """Loads a trained regressor and finds its face model.

    The face model comes from `face_model_path`, else the SavedModel's
    `assets.extra/face_model.npz`, else a `face_model.npz` beside it, else the
    built-in model truncated to the SavedModel's shape/texture output widths.

    Raises:
        DataError: if no SavedModel is found.
        ModelFileError: if the face model cannot be loaded or does not match.
    """
    saved_model_dir, config = resolve_saved_model(model_dir)
    loaded = tf.saved_model.load(saved_model_dir)
    predict_fn = loaded.signatures["serving_default"]
    outputs = predict_fn.structured_outputs
    widths = {name: int(outputs[name].shape[-1]) for name in ("shape_parameters", "texture_parameters")}
    candidates = [
        face_model_path,
        os.path.join(saved_model_dir, "assets.extra", "face_model.npz"),
        os.path.join(os.path.dirname(saved_model_dir), "face_model.npz"),
    ]
    source = next((c for c in candidates if c and os.path.isfile(c)), None)
    if face_model_path and source != face_model_path:
        raise ModelFileError(f"Face model {face_model_path} does not exist.", "Check --face-model.")
    if source is not None:
        face_model = load_npz(source)
    else:
        source = "builtin"
        face_model = load_model("builtin", widths["shape_parameters"], widths["texture_parameters"])
    if (face_model.shape.num_components, face_model.texture.num_components) != (
        widths["shape_parameters"],
        widths["texture_parameters"],
    ):
        raise ModelFileError(
            f"Face model {source} has {face_model.shape.num_components} shape + "
            f"{face_model.texture.num_components} texture components, but the network predicts "
            f"{widths['shape_parameters']} + {widths['texture_parameters']}.",
            "Pass the face model the network was trained with (--face-model).",
        )
    if scale is None:
        scale = float(config.get("sampling", {}).get("scale", 1.6))
    framing = read_input_framing(saved_model_dir)
    return LoadedRegressor(saved_model_dir, predict_fn, face_model, scale, source, framing)


@dataclass
class PhotoPrediction:
    """What `PhotoPredictor.predict` produced for one photo."""

    q: np.ndarray
    face: dict
    identity_score: float | None
    corrected_score: float | None
    instance_sigma: float
    files: dict[str, str] = field(default_factory=dict)
    note: str = ""
    pose: dict | None = None
    landmark_error: float | None = None


def encode_png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))
    if not ok:
        raise DataError(f"Could not encode a {image.shape} image as PNG.")
    return data.tobytes()


def label_image(image: np.ndarray, text: str) -> np.ndarray:
    """A copy of `[H, W, 3]` uint8 with `text` written in its top-left corner."""
    image = image.copy()
    cv2.putText(image, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(image, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return image


class PhotoPredictor:
    """Predicts heads from photos with one regressor (reuse it: detector, renderer and scorer load once).

    Args:
        regressor: from `load_regressor`.
        identity_backend: face-recognition backend of the identity score ("none" to skip).
        corrected_score_n: n of the corrected score (the thesis's Eq. 6.2).
        preview_size: side of the crop, rendering and overlay in the preview.
    """

    def __init__(
        self,
        regressor: LoadedRegressor,
        identity_backend: str = "dlib",
        corrected_score_n: float = 30.0,
        preview_size: int = 256,
    ) -> None:
        self.regressor = regressor
        self.corrected_score_n = corrected_score_n
        self.preview_size = preview_size
        self.scorer = IdentityScorer(identity_backend) if identity_backend != "none" else None
        self.detector = self.scorer.detector if self.scorer else FaceDetector()
        self.painter = HeadPainter(regressor.face_model, regressor.scale, batch_size=1)
        # A model trained on face crops sees photos through the same framer; one trained on
        # whole renders sees the photo's face where the mean head sits in a render.
        self.framer = FaceFramer() if regressor.framing == "face" else None
        self.framing = self._measure_framing() if self.framer is None else None
        self.landmarker = FaceMeshLandmarker()
        self.pose_renderer = HeadRenderer(
            regressor.face_model, preview_size, regressor.scale, with_depth=False
        )

    def __enter__(self) -> PhotoPredictor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        (self.scorer or self.detector).close()
        if self.framer is not None:
            self.framer.close()
        self.landmarker.close()

    def _measure_framing(self) -> Framing:
        """Where the mean head's face sits in a frontal training-style render (default if undetectable)."""
        mean_head = self.painter.render(np.zeros((1, self.regressor.face_model.num_parameters)), 256, 0.0)[0]
        try:
            return framing_of(mean_head, self.detector)
        except FaceNotFound:
            return Framing()

    def crop_face(self, photo: np.ndarray, face: FaceBox) -> tuple[np.ndarray, tuple[float, float], float]:
        """(`[S, S, 3]` crop framed like the training renders, its centre and side in photo pixels)."""
        if self.framer is not None:
            centre, side = face_crop_square(self.framer.find(photo, near=face))
        else:
            centre, side = self.framing.crop_square(face)
        return square_crop(photo, centre, side, self.preview_size), centre, side

    def predict_faces(self, photo: np.ndarray, faces: list[FaceBox]) -> tuple[np.ndarray, list[np.ndarray]]:
        """(`[F, m]` q, the F crops) for the given faces of one photo, in one batch."""
        crops = [self.crop_face(photo, face)[0] for face in faces]
        if not crops:
            return np.zeros((0, self.regressor.face_model.num_parameters), np.float32), []
        return self.regressor.predict([encode_png(crop) for crop in crops]), crops

    def pose_overlay(
        self, photo: np.ndarray, face: FaceBox, centre: tuple[float, float], side: float, q: np.ndarray
    ) -> PoseOverlay | None:
        """Head q in the pose fitted to the face's landmarks, over its crop, with the landmark error.

        None if the face mesh finds no face around the box.
        """
        try:
            points = face_landmarks(photo, face, self.landmarker)
        except FaceNotFound:
            return None
        crop = square_crop(photo, centre, side, self.preview_size)
        crop_points = photo_to_crop(points, centre, side, self.preview_size)
        return overlay_in_photo_pose(self.pose_renderer, q, crop, crop_points)

    def predict(self, photo: np.ndarray, out_dir: str, stem: str, what: str = "the photo") -> PhotoPrediction:
        """Detects, crops, predicts and writes the mesh, preview and JSON for one photo.

        Raises:
            FaceNotFound: if the photo shows no detectable face.
        """
        face = self.detector.detect(photo, what)
        crop, centre, side = self.crop_face(photo, face)
        q = self.regressor.predict([encode_png(crop)])[0]
        os.makedirs(out_dir, exist_ok=True)
        files = {}
        for suffix in (".obj", ".ply"):
            files[f"mesh{suffix}"] = os.path.join(out_dir, stem + suffix)
            export_mesh(self.regressor.face_model, q, files[f"mesh{suffix}"], self.regressor.scale)
        renders, masks = self.painter.render_with_masks(q[None], self.preview_size, 0.0)
        rendering = renders[0]
        posed = self.pose_overlay(photo, face, centre, side, q)
        sigma = float(instance_sigma(q, self.regressor.scale))
        score, corrected, note = self._identity(photo, face, rendering, sigma, what)
        label = f"identity {score:.3f}" if score is not None else "identity n/a"
        in_pose = (
            label_image(posed.image, "in the photo's pose") if posed else label_image(crop, "no landmarks")
        )
        preview = np.concatenate([label_image(crop, "input"), in_pose, label_image(rendering, label)], axis=1)
        files["preview"] = os.path.join(out_dir, f"{stem}_preview.png")
        with atomic_path(files["preview"]) as tmp:
            with open(tmp, "wb") as f:
                f.write(encode_png(preview))
        pose = {k: float(posed.factors[k]) for k in POSE_FACTORS} if posed else None
        error = posed.landmark_error if posed else None
        result = PhotoPrediction(q, face.to_dict(), score, corrected, sigma, files, note, pose, error)
        files["json"] = os.path.join(out_dir, f"{stem}.json")
        write_text_atomic(files["json"], json.dumps(self._payload(result, centre, side), indent=2))
        return result

    def _identity(
        self, photo: np.ndarray, face: FaceBox, rendering: np.ndarray, sigma: float, what: str
    ) -> tuple[float | None, float | None, str]:
        """(identity score, corrected score, note) of the photo against the rendering; None without a scorer."""
        if self.scorer is None:
            return None, None, ""
        try:
            photo_embedding, _ = self.scorer.embed(photo, what, face=face)
            render_embedding, _ = self.scorer.embed(rendering, "the rendering of the prediction")
        except FaceNotFound as error:
            return None, None, f"No identity score: {error}"
        score = float(cosine_similarity(photo_embedding, render_embedding))
        return score, float(corrected_score(score, sigma, self.corrected_score_n)), ""

    def _payload(self, result: PhotoPrediction, centre: tuple[float, float], side: float) -> dict:
        """The photo's JSON: q split into shape and texture, the crop, the scores and the files."""
        m_shape = self.regressor.face_model.shape.num_components
        return {
            "q": result.q.tolist(),
            "shape_parameters": result.q[:m_shape].tolist(),
            "texture_parameters": result.q[m_shape:].tolist(),
            "scale": self.regressor.scale,
            "face": result.face,
            "crop": {"centre": [float(c) for c in centre], "side": float(side)},
            "pose": result.pose,
            "landmark_error": result.landmark_error,
            "identity_backend": self.scorer.backend_name if self.scorer else "none",
            "identity_score": result.identity_score,
            "corrected_score": result.corrected_score,
            "corrected_score_n": self.corrected_score_n,
            "instance_sigma": result.instance_sigma,
            "note": result.note,
            "saved_model": self.regressor.saved_model_dir,
            "face_model": self.regressor.face_model_source,
            "files": result.files,
        }
