"""Photos are cropped the way the model's training images were framed (recorded in the SavedModel)."""

import numpy as np
import pytest
import skimage.data

from headsynth.components.identity.detection import FaceDetector, FaceFramer, face_crop_square
from headsynth.components.prediction.predict import LoadedRegressor, PhotoPredictor
from headsynth.data_schemas.serving_assets import read_input_framing, write_input_framing
from headsynth.morphable.loading import load_model


def test_framing_round_trips_and_defaults_to_full(tmp_path):
    assert read_input_framing(str(tmp_path)) == "full"  # a model exported before framing was recorded
    write_input_framing(str(tmp_path), "face")
    assert read_input_framing(str(tmp_path)) == "face"
    assert not list((tmp_path / "assets.extra").glob(".*"))  # written atomically


@pytest.mark.parametrize("framing", ["face", "full"])
def test_photo_crop_follows_the_models_framing(framing):
    model = load_model("builtin", 2, 2)
    regressor = LoadedRegressor("unused", None, model, 1.6, "builtin", framing)
    photo = skimage.data.astronaut()
    with (
        PhotoPredictor(regressor, identity_backend="none", preview_size=128) as predictor,
        FaceFramer() as framer,
    ):
        face = FaceDetector().detect(photo)
        crop, centre, side = predictor.crop_face(photo, face)
        expected = face_crop_square(framer.find(photo, near=face))
    assert crop.shape == (128, 128, 3)
    if framing == "face":  # the renders' crop: the short-range detector's box, enlarged 1.5 times
        np.testing.assert_allclose(centre, expected[0], atol=1e-6)
        assert side == pytest.approx(expected[1])
    else:  # framed where the mean head sits in a whole render: a wider square
        assert side > 1.3 * expected[1]
