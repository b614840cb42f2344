"""Face detection with mediapipe's shipped BlazeFace models (offline), and crops.

mediapipe 0.10.21 ships its face detection `.tflite` models in the wheel, so
`mediapipe.solutions.face_detection` works without a network. The
full-range model (`model_selection=1`) finds faces from close-ups to a few
metres away; identity scores use it. The short-range model
(`model_selection=0`) is made for faces within about 2 m: on renders of the
built-in head (yaw within 45 degrees, varied light and backgrounds) it found
every face where the full-range model missed 23% (measured on 256 renders at
192x192). `FaceFramer` uses it to crop renders and photos alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from headsynth.core.errors import DataError, HeadsynthError
from headsynth.core.logs import filtered_stderr
from headsynth.core.photos import as_rgb_uint8


class FaceNotFound(DataError):
    """No face was detected in an image."""


@dataclass(frozen=True)
class FaceBox:
    """A detected face in pixel coordinates of the image it was found in.

    Attributes:
        x0, y0, x1, y1: the bounding box (x right, y down; x1/y1 exclusive).
        score: the detector's confidence in [0, 1].
        keypoints: `[6, 2]` (x, y) of right eye, left eye, nose tip, mouth
            centre, right ear, left ear (mediapipe's order; "right" is the
            subject's right).
    """

    x0: float
    y0: float
    x1: float
    y1: float
    score: float
    keypoints: np.ndarray

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.x0 + self.x1) / 2.0, (self.y0 + self.y1) / 2.0)

    def to_dict(self) -> dict:
        return {
            "box": [float(self.x0), float(self.y0), float(self.x1), float(self.y1)],
            "score": float(self.score),
            "keypoints": np.asarray(self.keypoints, float).tolist(),
        }


class FaceDetector:
    """mediapipe's face detector; reusable (`with FaceDetector() as d:` closes it).

    Args:
        min_confidence: detections below this score are ignored.
        short_range: use the short-range model (faces within ~2 m) instead of the full-range one.
    """

    def __init__(self, min_confidence: float = 0.5, short_range: bool = False) -> None:
        try:
            # mediapipe loads its detector graph only when a detector is made.
            import mediapipe as mp
        except ImportError as error:  # pragma: no cover - the locked stack has it
            raise HeadsynthError(
                f"mediapipe does not import ({error}).", "Run `make setup` to install the locked stack."
            ) from None
        # The graph starts on its own thread and announces absl's and TFLite's start-up on stderr
        # when it does: one inference under the filter waits for that.
        with filtered_stderr():
            self._detector = mp.solutions.face_detection.FaceDetection(
                model_selection=0 if short_range else 1, min_detection_confidence=min_confidence
            )
            self._detector.process(np.zeros((64, 64, 3), np.uint8))

    def __enter__(self) -> FaceDetector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._detector is not None:
            self._detector.close()
            self._detector = None

    def detect_all(self, image: np.ndarray) -> list[FaceBox]:
        """Every face found, best score first (boxes clipped to the image)."""
        image = as_rgb_uint8(image)
        height, width = image.shape[:2]
        result = self._detector.process(image)
        faces = []
        for detection in result.detections or []:
            box = detection.location_data.relative_bounding_box
            x0 = max(0.0, box.xmin * width)
            y0 = max(0.0, box.ymin * height)
            x1 = min(float(width), (box.xmin + box.width) * width)
            y1 = min(float(height), (box.ymin + box.height) * height)
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            keypoints = np.array(
                [[k.x * width, k.y * height] for k in detection.location_data.relative_keypoints], np.float32
            )
            faces.append(FaceBox(x0, y0, x1, y1, float(detection.score[0]), keypoints))
        return sorted(faces, key=lambda f: -f.score)

    def detect(self, image: np.ndarray, what: str = "the image") -> FaceBox:
        """The most confident face.

        Raises:
            FaceNotFound: naming `what` when no face is found.
        """
        faces = self.detect_all(image)
        if not faces:
            height, width = np.asarray(image).shape[:2]
            raise FaceNotFound(
                f"No face found in {what} ({width}x{height} pixels).",
                "Use a photo with one clearly visible, roughly frontal face, at least ~40 pixels wide.",
            )
        return faces[0]


def crop_transform(centre: tuple[float, float], side: float, output_size: int) -> np.ndarray:
    """`[2, 3]` affine map from image pixels to the pixels of the `output_size` crop of the square."""
    side = max(2.0, float(side))
    scale = output_size / side
    x0, y0 = centre[0] - side / 2.0, centre[1] - side / 2.0
    return np.array([[scale, 0.0, -x0 * scale], [0.0, scale, -y0 * scale]], np.float64)


def square_crop(
    image: np.ndarray, centre: tuple[float, float], side: float, output_size: int, fill: int = 128
) -> np.ndarray:
    """Crops the square of `side` pixels around `centre` and resizes it to `output_size`.

    Parts of the square outside the image are filled with gray `fill`.
    """
    # OpenCV only where a crop is made: the detection module stays light to import.
    import cv2

    image = as_rgb_uint8(image)
    matrix = crop_transform(centre, side, output_size)
    interpolation = cv2.INTER_AREA if matrix[0, 0] < 1 else cv2.INTER_LINEAR
    return cv2.warpAffine(
        image,
        matrix,
        (output_size, output_size),
        flags=interpolation,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(fill, fill, fill),
    )


@dataclass(frozen=True)
class Framing:
    """Where a frontal face sits in the training renders, relative to the image side.

    Attributes:
        box_width: detected face-box width / image side.
        centre_x: face-box centre x / image side.
        centre_y: face-box centre y / image side.
    """

    box_width: float = 0.45
    centre_x: float = 0.5
    centre_y: float = 0.5

    def crop_square(self, face: FaceBox) -> tuple[tuple[float, float], float]:
        """(centre, side) of the square of a photo that frames `face` like the renders."""
        side = face.width / self.box_width
        cx, cy = face.centre
        return (cx + (0.5 - self.centre_x) * side, cy + (0.5 - self.centre_y) * side), side


def framing_of(image: np.ndarray, detector: FaceDetector) -> Framing:
    """The framing of the face in a (rendered) square image.

    Raises:
        FaceNotFound: if the image shows no detectable face.
    """
    face = detector.detect(image, "the reference rendering")
    side = float(np.asarray(image).shape[1])
    cx, cy = face.centre
    return Framing(face.width / side, cx / side, cy / side)


# The face crop's side over the detector box's larger side: mediapipe frames
# its face-mesh model's input with the detection box enlarged 1.5 times.
FACE_CROP_ENLARGE = 1.5


def face_crop_square(face: FaceBox, enlarge: float = FACE_CROP_ENLARGE) -> tuple[tuple[float, float], float]:
    """(centre, side) of the square crop around a detected face: its box, enlarged, made square."""
    return face.centre, max(face.width, face.height) * enlarge


class FaceFramer:
    """One framing for renders and photos: the short-range detector's box, enlarged 1.5 times.

    A face the short-range model misses (a small face in a large photo) is
    found with the full-range model, and the short-range model then runs
    again on a crop around it, so the box that decides the framing comes from
    the same model for every input.
    """

    def __init__(self, min_confidence: float = 0.5) -> None:
        self._short = FaceDetector(min_confidence, short_range=True)
        self._full: FaceDetector | None = None  # made on the first face the short-range model misses
        self._min_confidence = min_confidence

    def __enter__(self) -> FaceFramer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._short.close()
        if self._full is not None:
            self._full.close()

    def square(self, image: np.ndarray, what: str = "the image") -> tuple[tuple[float, float], float]:
        """(centre, side) of the face crop of the most confident face.

        Raises:
            FaceNotFound: naming `what` when neither detector finds a face.
        """
        face = self.find(image, what)
        return face_crop_square(face)

    def find(self, image: np.ndarray, what: str = "the image", near: FaceBox | None = None) -> FaceBox:
        """The short-range model's box of the face (around `near`, a box another detector found).

        Raises:
            FaceNotFound: naming `what` when no face is found.
        """
        if near is None:
            faces = self._short.detect_all(image)
            if faces:
                return faces[0]
            if self._full is None:
                self._full = FaceDetector(self._min_confidence)
            near = self._full.detect(image, what)
        centre, side = face_crop_square(near, 2.0)
        crop = square_crop(image, centre, side, 256)
        faces = self._short.detect_all(crop)
        if not faces:
            return near  # the full-range box: better framed a little differently than not at all
        face, back = faces[0], side / 256.0
        x0, y0 = centre[0] - side / 2.0, centre[1] - side / 2.0
        return FaceBox(
            x0 + face.x0 * back,
            y0 + face.y0 * back,
            x0 + face.x1 * back,
            y0 + face.y1 * back,
            face.score,
            face.keypoints * back + np.array([x0, y0], np.float32),
        )
