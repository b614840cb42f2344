"""Face embeddings for the identity score: dlib (offline default) and deepface's models.

Backends (`BACKENDS`):

- "dlib": dlib's ResNet face descriptor (128-d) from `face-recognition-models`,
  aligned with its 5-point shape predictor inside the detected box. Offline.
- "vgg-face" (the thesis's VGG-Face), "arcface", "facenet512": deepface's
  models through `DeepFace.represent(..., detector_backend="skip")` on the
  detected crop. deepface downloads weights at run time, which fails offline,
  so these run only when the weights file is already in
  `$DEEPFACE_HOME/.deepface/weights/`; otherwise `IdentityBackendUnavailable`
  names the file and how to supply it.
- "deepface-dlib": the same dlib descriptor through deepface (its `Dlib`
  model; `make setup` links the weights), which exercises the deepface path offline.

Every backend maps (RGB image, FaceBox) -> a 1-d float64 embedding; the
identity score is the cosine similarity of two embeddings.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np

from headsynth.components.identity.detection import FaceBox
from headsynth.core.errors import ConfigError, HeadsynthError
from headsynth.core.photos import as_rgb_uint8


class IdentityBackendUnavailable(HeadsynthError):
    """A face-recognition backend whose weights or packages are missing."""


@dataclass(frozen=True)
class DeepfaceModel:
    """A deepface model: its name in deepface and its weights file per backend engine."""

    model_name: str
    weights: dict[str, str]
    crop_margin: float = 0.0


# Weights file names as deepface 0.0.103 stores them, per backend engine.
DEEPFACE_MODELS: dict[str, DeepfaceModel] = {
    "vgg-face": DeepfaceModel(
        "VGG-Face",
        {
            "tensorflow": "vgg_face_weights.h5",
            "pytorch": "vgg_face_weights.pth",
            "onnx": "vgg_face_weights.onnx",
        },
    ),
    "arcface": DeepfaceModel(
        "ArcFace",
        {
            "tensorflow": "arcface_weights.h5",
            "pytorch": "arcface_weights.pth",
            "onnx": "arcface_weights.onnx",
        },
    ),
    "facenet512": DeepfaceModel(
        "Facenet512",
        {
            "tensorflow": "facenet512_weights.h5",
            "pytorch": "facenet512_weights.pth",
            "onnx": "facenet512_weights.onnx",
        },
    ),
    "deepface-dlib": DeepfaceModel(
        "Dlib",
        {engine: "dlib_face_recognition_resnet_model_v1.dat" for engine in ("tensorflow", "pytorch", "onnx")},
    ),
}

BACKENDS = ("dlib", *DEEPFACE_MODELS)


def deepface_weights_dir() -> str:
    """Where deepface looks for weights: `$DEEPFACE_HOME/.deepface/weights` (home if unset)."""
    home = os.environ.get("DEEPFACE_HOME") or os.path.expanduser("~")
    return os.path.join(home, ".deepface", "weights")


def deepface_engine() -> str:
    """The backend engine deepface will run on (tensorflow here), without importing deepface."""
    enforced = os.environ.get("DEEPFACE_BACKEND_ENGINE", "").strip().lower()
    return enforced or "tensorflow"


class DlibBackend:
    """dlib's face descriptor, aligned by the 5-point shape predictor in the given box."""

    name = "dlib"

    def __init__(self) -> None:
        try:
            # dlib and its model files are optional and load only when this backend is chosen.
            import dlib

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # face_recognition_models imports pkg_resources
                import face_recognition_models
        except ImportError as error:
            raise IdentityBackendUnavailable(
                f"The dlib identity backend needs dlib and face-recognition-models ({error}).",
                "Run `make setup` (installs dlib-bin and face-recognition-models).",
            ) from None
        paths = (
            face_recognition_models.pose_predictor_five_point_model_location(),
            face_recognition_models.face_recognition_model_location(),
        )
        for path in paths:
            if not os.path.isfile(path):
                raise IdentityBackendUnavailable(
                    f"dlib model file {path} is missing.", "Reinstall face-recognition-models (`make setup`)."
                )
        self._dlib = dlib
        self._shape_predictor = dlib.shape_predictor(paths[0])
        self._recognizer = dlib.face_recognition_model_v1(paths[1])

    def embed(self, image: np.ndarray, face: FaceBox) -> np.ndarray:
        image = as_rgb_uint8(image)
        rect = self._dlib.rectangle(
            int(round(face.x0)), int(round(face.y0)), int(round(face.x1)), int(round(face.y1))
        )
        shape = self._shape_predictor(image, rect)
        return np.asarray(self._recognizer.compute_face_descriptor(image, shape), np.float64)


class DeepfaceBackend:
    """A deepface model applied to the detected face crop (`detector_backend="skip"`)."""

    @staticmethod
    def weights_path(name: str) -> str:
        """The weights file deepface needs for `name`.

        Raises:
            IdentityBackendUnavailable: if it is not there (deepface would try to download it).
        """
        spec = DEEPFACE_MODELS[name]
        file_name = spec.weights.get(deepface_engine(), spec.weights["tensorflow"])
        path = os.path.join(deepface_weights_dir(), file_name)
        if not os.path.isfile(path):
            raise IdentityBackendUnavailable(
                f"The {name} identity backend needs deepface's {spec.model_name} weights at {path}, "
                "and deepface cannot download them offline.",
                f"Copy {file_name} (deepface downloads it on a machine with internet access into "
                "~/.deepface/weights/) to that folder, or point DEEPFACE_HOME at a folder holding "
                f".deepface/weights/{file_name}; or use the offline backend dlib.",
            )
        return path

    def __init__(self, name: str) -> None:
        spec = DEEPFACE_MODELS[name]
        self.weights_path(name)
        try:
            # deepface (and the TensorFlow it loads) only for its backends, and only once the weights are there.
            from deepface import DeepFace
        except ImportError as error:
            raise IdentityBackendUnavailable(
                f"deepface does not import ({error}).", "Run `make setup` to install the locked stack."
            ) from None
        self.name = name
        self._spec = spec
        self._deepface = DeepFace

    def embed(self, image: np.ndarray, face: FaceBox) -> np.ndarray:
        image = as_rgb_uint8(image)
        height, width = image.shape[:2]
        margin = self._spec.crop_margin * face.width
        x0, y0 = int(max(0, face.x0 - margin)), int(max(0, face.y0 - margin))
        x1, y1 = int(min(width, face.x1 + margin)), int(min(height, face.y1 + margin))
        crop = np.ascontiguousarray(image[y0:y1, x0:x1, ::-1])  # deepface takes BGR arrays
        result = self._deepface.represent(
            img_path=crop,
            model_name=self._spec.model_name,
            detector_backend="skip",
            enforce_detection=False,
            align=False,
        )
        return np.asarray(result[0]["embedding"], np.float64)


def check_backend_name(name: str, key: str = "identity backend") -> None:
    """Checks that `name` is a registered backend, without looking for its weights.

    Raises:
        ConfigError: naming the key and the known backends.
    """
    if name not in BACKENDS:
        raise ConfigError(f"Unknown {key} {name!r}.", f"Choose one of: none, {', '.join(BACKENDS)}.")


def check_backend(name: str) -> None:
    """Fails early, without loading any model, when a backend cannot run (unknown name, missing weights).

    Raises:
        IdentityBackendUnavailable: naming the missing file and how to supply it.
    """
    if name == "dlib":
        return
    if name not in DEEPFACE_MODELS:
        raise IdentityBackendUnavailable(
            f"Unknown identity backend {name!r}.", f"Choose one of: {', '.join(BACKENDS)}."
        )
    DeepfaceBackend.weights_path(name)


def get_backend(name: str):
    """Builds an embedding backend by name.

    Raises:
        IdentityBackendUnavailable: for an unknown name, or missing weights/packages.
    """
    if name == "dlib":
        return DlibBackend()
    if name in DEEPFACE_MODELS:
        return DeepfaceBackend(name)
    raise IdentityBackendUnavailable(
        f"Unknown identity backend {name!r}.", f"Choose one of: {', '.join(BACKENDS)}."
    )
