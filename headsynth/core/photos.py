"""Photographs in: reading image files, `skimage:NAME` sample photos, RGB normalisation."""

from __future__ import annotations

import os

import numpy as np

from headsynth.core.errors import DataError


class ImageReadError(DataError):
    """An image file that is missing or cannot be decoded."""


def as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """`[H, W, 3]` uint8 RGB from uint8/float RGB, RGBA or gray input."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    if image.ndim != 3 or image.shape[-1] not in (3, 4):
        raise DataError(f"Expected an [H, W, 3] RGB image; received shape {list(image.shape)}.")
    image = image[..., :3]
    if image.dtype != np.uint8:
        image = np.clip(np.rint(image * 255.0 if image.max() <= 1.0 else image), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image)


# Larger photos are refused before decoding: 100 megapixels of RGB is 300 MB,
# and a face needs far fewer pixels than that.
MAX_PHOTO_PIXELS = 100_000_000


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Reads a photo as `[H, W, 3]` uint8 RGB.

    Raises:
        ImageReadError: if the file is missing or not an image OpenCV can decode.
    """
    import cv2

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ImageReadError(f"Photo {path} does not exist.", "Check the path.")
    data = np.fromfile(path, np.uint8)
    if data.size == 0:
        raise ImageReadError(
            f"Photo {path} is empty (0 bytes).", "Pass a JPEG, PNG, BMP, TIFF or WebP photograph."
        )
    from PIL import Image

    try:
        with Image.open(path) as header:  # reads the size only, not the pixels
            width, height = header.size
    except Exception:
        width = height = 0  # not a format PIL knows; OpenCV decides below
    if width * height > MAX_PHOTO_PIXELS:
        raise ImageReadError(
            f"Photo {path} is too large ({width}x{height} pixels; at most {MAX_PHOTO_PIXELS // 1_000_000} "
            "megapixels).",
            "Downscale it first; the face needs only a few hundred pixels across.",
        )
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise ImageReadError(
            f"{path} is not an image OpenCV can decode.", "Pass a JPEG, PNG, BMP, TIFF or WebP photograph."
        )
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def load_photo(spec: str):
    """An RGB photo from a file path or `skimage:NAME`."""
    if spec.startswith("skimage:"):
        from skimage import data

        name = spec.split(":", 1)[1]
        loader = getattr(data, name, None)
        if loader is None or not callable(loader):
            raise ImageReadError(f"scikit-image has no sample image {name!r}.", "Try skimage:astronaut.")
        return as_rgb_uint8(loader()), name
    return read_image(spec), os.path.splitext(os.path.basename(spec))[0]
