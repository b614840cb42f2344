"""A folder of background photographs unlike the built-in ones: solid, saturated colours."""

import cv2
import numpy as np
import pytest

# RGB colours of the photographs: crops of the built-in photographs would not give exactly these at every corner.
PHOTO_COLOURS = ((255, 0, 255), (0, 255, 0), (0, 0, 255))


@pytest.fixture
def photo_colours():
    return PHOTO_COLOURS


@pytest.fixture
def photo_folder(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, rgb in enumerate(PHOTO_COLOURS):
        cv2.imwrite(str(folder / f"photo_{i}.png"), np.full((48, 64, 3), rgb[::-1], np.uint8))
    return folder
