"""Background photographs: built-in ones from scikit-image, or a user's folder."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from headsynth.core.errors import ConfigError, DataError

# Photographs scikit-image ships inside its wheel (no download). Images that
# show a human face (astronaut, camera) are left out on purpose: a second face
# would confuse face detection in evaluation.
BUILTIN_PHOTOS = (
    "brick",
    "chelsea",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "page",
    "rocket",
    "text",
    "retina",
    "clock",
    "cell",
    "colorwheel",
)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def _as_rgb_float(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    if image.shape[-1] == 4:
        image = image[..., :3]
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    image = image.astype(np.float32)
    return image / max(float(image.max()), 1e-6) if image.max() > 1.0 else image


def load_backgrounds(source: str = "builtin", max_side: int = 512) -> list[np.ndarray]:
    """Loads background photographs as float32 RGB in [0, 1].

    Args:
        source: "builtin" (scikit-image's photographs) or a folder of images.
        max_side: photographs are downscaled so their longer side is at most this.

    Raises:
        ConfigError: if the folder does not exist or holds no images.
        DataError: naming a file that is not a readable image.
    """
    images: list[np.ndarray] = []
    if source == "builtin":
        import skimage.data  # heavy (scikit-image), and only for the built-in photographs

        for name in BUILTIN_PHOTOS:
            images.append(_as_rgb_float(getattr(skimage.data, name)()))
    else:
        folder = Path(source)
        if not folder.is_dir():
            raise ConfigError(
                f"Background folder {folder} does not exist.",
                "Set rendering.backgrounds to a folder of photographs, or to 'builtin'.",
            )
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ConfigError(
                f"Background folder {folder} holds no images ({', '.join(IMAGE_SUFFIXES)}).",
                "Put photographs in it, or set rendering.backgrounds=builtin.",
            )
        for path in files:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None or image.size == 0:
                raise DataError(
                    f"Background {path} is not a readable image.",
                    "Remove or replace the file.",
                )
            images.append(_as_rgb_float(cv2.cvtColor(image, cv2.COLOR_BGR2RGB)))
    resized = []
    for image in images:
        scale = max_side / max(image.shape[:2])
        if scale < 1.0:
            size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        resized.append(np.ascontiguousarray(image, dtype=np.float32))
    return resized


def crop_background(
    photos: list[np.ndarray], pick: float, scale: float, x: float, y: float, size: int
) -> np.ndarray:
    """A `[size, size, 3]` crop of one photograph, placed and scaled by factors in [0, 1]."""
    photo = photos[min(int(pick * len(photos)), len(photos) - 1)]
    height, width = photo.shape[:2]
    side = max(2, int(round(min(height, width) * float(np.clip(scale, 0.05, 1.0)))))
    top = int(round(y * (height - side)))
    left = int(round(x * (width - side)))
    crop = photo[top : top + side, left : left + side]
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interpolation)
