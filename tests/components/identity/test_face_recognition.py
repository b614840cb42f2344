"""mediapipe detection and the face-recognition backends on scikit-image's astronaut (offline)."""

import numpy as np
import pytest

from headsynth.components.identity.detection import FaceNotFound
from headsynth.components.identity.embedding import (
    IdentityBackendUnavailable,
    check_backend,
    get_backend,
)
from headsynth.core.errors import HeadsynthError


@pytest.fixture(scope="module")
def astronaut():
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="module")
def scorer():
    from headsynth.components.identity.scores import IdentityScorer

    with IdentityScorer("dlib") as scorer:
        yield scorer


def test_detects_the_astronaut_and_crops(scorer, astronaut):
    from headsynth.components.identity.detection import square_crop

    face = scorer.detector.detect(astronaut)
    assert face.score > 0.8
    assert 150 < face.centre[0] < 260 and 40 < face.centre[1] < 140  # her face, upper middle
    crop = square_crop(astronaut, face.centre, 2 * face.width, 64)
    assert crop.shape == (64, 64, 3) and crop.dtype == np.uint8
    assert scorer.detector.detect_all(crop)  # still a face after cropping


def test_dlib_identity_score(scorer, astronaut):
    from skimage import data

    assert scorer.score(astronaut, astronaut) == pytest.approx(1.0)
    mirrored = scorer.score(astronaut, astronaut[:, ::-1])  # the same person
    other = scorer.score(astronaut, data.camera())  # the cameraman: another person
    assert 0.9 < mirrored < 1.0 + 1e-9
    assert other < mirrored - 0.05


def test_no_face_is_a_clear_error(scorer, astronaut):
    gray = np.full((120, 120, 3), 128, np.uint8)
    with pytest.raises(FaceNotFound, match="No face found in the input image"):
        scorer.score(gray, astronaut)
    with pytest.raises(FaceNotFound, match="rendering of the prediction"):
        scorer.score(astronaut, gray)
    assert issubclass(FaceNotFound, HeadsynthError)
    assert scorer.try_embed(gray) is None


def test_missing_deepface_weights_name_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))
    for name, file_name in (
        ("vgg-face", "vgg_face_weights.h5"),
        ("arcface", "arcface_weights.h5"),
        ("facenet512", "facenet512_weights.h5"),
    ):
        with pytest.raises(IdentityBackendUnavailable) as error:
            check_backend(name)
        message = str(error.value)
        assert str(tmp_path / ".deepface" / "weights" / file_name) in message
        assert "offline" in message and "DEEPFACE_HOME" in message
        with pytest.raises(IdentityBackendUnavailable):
            get_backend(name)
    with pytest.raises(IdentityBackendUnavailable, match="Unknown identity backend"):
        check_backend("vgg")


def test_deepface_path_runs_offline_with_present_weights(scorer, astronaut):
    # deepface's Dlib model: its weights are linked by `make setup`, so deepface runs offline.
    backend = get_backend("deepface-dlib")
    face = scorer.detector.detect(astronaut)
    embedding = backend.embed(astronaut, face)
    assert embedding.shape == (128,) and np.all(np.isfinite(embedding))
