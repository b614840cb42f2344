"""A face's 468 landmarks in a photo: mediapipe's face mesh (shipped in the wheel, offline).

    with FaceDetector() as detector, FaceMeshLandmarker() as landmarker:
        for face in detector.detect_all(photo):
            points = face_landmarks(photo, face, landmarker)   # [468, 2] pixels of the photo

Each detected face is cropped (a square around its box) and its mesh found in
the crop, so every face of a group photo gets its own mesh and small faces are
enlarged to the mesh model's working size.
"""

from __future__ import annotations

import contextlib

import numpy as np

from headsynth.components.identity.detection import FaceBox, FaceNotFound, square_crop
from headsynth.core.errors import HeadsynthError
from headsynth.core.logs import filtered_stderr
from headsynth.core.photos import as_rgb_uint8
from headsynth.morphable.landmarks import MEDIAPIPE_MESH_POINTS

# The crop around a face box: the box is about the eyes-to-mouth region, the mesh needs the whole head.
CROP_PER_BOX = 2.0
CROP_PIXELS = 384


class FaceMeshLandmarker:
    """mediapipe's face mesh on still images; reusable (`with FaceMeshLandmarker() as m:` closes it).

    Args:
        max_faces: the most faces `landmarks` returns per image.
        min_confidence: the detection confidence below which a face is ignored.
    """

    def __init__(self, max_faces: int = 1, min_confidence: float = 0.5) -> None:
        try:
            # mediapipe builds its graph only when a mesh is made.
            from mediapipe.python.solutions import face_mesh
        except ImportError as error:  # pragma: no cover - the locked stack has it
            raise HeadsynthError(
                f"mediapipe does not import ({error}).", "Run `make setup` to install the locked stack."
            ) from None
        # The graph starts on its own thread and announces TFLite's start-up on stderr when it
        # does: one inference under the filter waits for that.
        with filtered_stderr():
            self._mesh = face_mesh.FaceMesh(
                static_image_mode=True, max_num_faces=max_faces, min_detection_confidence=min_confidence
            )
            self._mesh.process(np.zeros((64, 64, 3), np.uint8))
        self._face_seen = False  # the landmark projection warns on stderr at the first face it projects

    def __enter__(self) -> FaceMeshLandmarker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._mesh is not None:
            self._mesh.close()
            self._mesh = None

    def landmarks(self, image: np.ndarray) -> list[np.ndarray]:
        """`[468, 2]` (x, y) pixels of each face mediapipe finds in `image` (possibly none)."""
        image = as_rgb_uint8(image)
        height, width = image.shape[:2]
        with contextlib.nullcontext() if self._face_seen else filtered_stderr():
            result = self._mesh.process(image)
        self._face_seen = self._face_seen or bool(result.multi_face_landmarks)
        faces = []
        for face in result.multi_face_landmarks or []:
            points = np.array([[p.x * width, p.y * height] for p in face.landmark], np.float64)
            faces.append(points[:MEDIAPIPE_MESH_POINTS])
        return faces


def face_landmarks(
    photo: np.ndarray, face: FaceBox, landmarker: FaceMeshLandmarker, what: str = "the photo"
) -> np.ndarray:
    """`[468, 2]` mesh points (photo pixels) of the detected face `face`.

    Raises:
        FaceNotFound: if the mesh model finds no face in the crop around the box.
    """
    side = CROP_PER_BOX * max(face.width, face.height)
    centre = face.centre
    crop = square_crop(photo, centre, side, CROP_PIXELS)
    found = landmarker.landmarks(crop)
    if not found:
        raise FaceNotFound(
            f"The face mesh found no face in the box {face.to_dict()['box']} of {what}.",
            "The face may be too small, blurred or turned away; use a clearer, roughly frontal face.",
        )
    # The face nearest the crop's centre is the one the box was around.
    points = min(found, key=lambda p: np.linalg.norm(p.mean(axis=0) - CROP_PIXELS / 2.0))
    return points * (side / CROP_PIXELS) + (np.asarray(centre) - side / 2.0)
