"""Odd photos for `predict`: gray and RGBA are converted; huge, empty and non-images are named."""

import cv2
import numpy as np
import pytest
import skimage.data
from PIL import Image

from headsynth.core.errors import HeadsynthError
from headsynth.core.photos import ImageReadError, read_image


def test_odd_photos_are_converted_or_named(tmp_path):
    rgb = skimage.data.astronaut()
    gray = tmp_path / "gray.png"
    cv2.imwrite(str(gray), cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    rgba = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 128, np.uint8)])).save(rgba)
    for path in (gray, rgba):
        image = read_image(path)
        assert image.shape == (512, 512, 3) and image.dtype == np.uint8

    huge = tmp_path / "huge.png"
    Image.new("L", (12000, 9000)).save(huge)  # 108 megapixels: refused from the header alone
    with pytest.raises(ImageReadError, match="huge.png is too large \\(12000x9000"):
        read_image(huge)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty.jpg is empty"):
        read_image(empty)
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    with pytest.raises(ImageReadError, match="notes.png is not an image"):
        read_image(text)
    with pytest.raises(HeadsynthError, match="does not exist"):
        read_image(tmp_path / "missing.jpg")
