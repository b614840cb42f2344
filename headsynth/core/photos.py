"""Photographs in: reading image files, `skimage:NAME` sample photos, RGB normalisation."""

from __future__ import annotations

import glob
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


def is_grayscale(image: np.ndarray, tolerance: int = 2) -> bool:
    """Whether all channels of `[H, W, 3]` uint8 are equal (within `tolerance`: JPEG's chroma rounding)."""
    image = np.asarray(image, np.int16)
    if image.ndim == 2:
        return True
    return bool(
        np.abs(image[..., 0] - image[..., 1]).max() <= tolerance
        and np.abs(image[..., 1] - image[..., 2]).max() <= tolerance
    )


def to_grayscale(image: np.ndarray) -> np.ndarray:
    """`[H, W, 3]` uint8 with every channel the luma (ITU-R 601, as OpenCV converts)."""
    weights = np.array([0.299, 0.587, 0.114])
    luma = np.clip(np.rint(np.asarray(image, np.float64)[..., :3] @ weights), 0, 255).astype(np.uint8)
    return np.repeat(luma[..., None], 3, axis=-1)


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


# The real photographs with a face that ship in installed packages (a scan of
# every image file in site-packages with mediapipe's detector found these
# three): name -> (package, how to load it).
PACKAGED_PHOTOS = {
    "astronaut": ("scikit-image", "skimage.data.astronaut()"),
    "camera": ("scikit-image", "skimage.data.camera() (grayscale)"),
    "grace_hopper": ("matplotlib", 'matplotlib.cbook.get_sample_data("grace_hopper.jpg")'),
}


def _load_packaged(name: str) -> np.ndarray:
    """One packaged photo as `[H, W, 3]` uint8 RGB (ImportError/OSError when its package or file is absent)."""
    if name in ("astronaut", "camera"):
        from skimage import data

        return as_rgb_uint8(getattr(data, name)())
    from matplotlib import cbook
    from PIL import Image

    with cbook.get_sample_data("grace_hopper.jpg") as file, Image.open(file) as image:
        return as_rgb_uint8(np.asarray(image.convert("RGB")))


def packaged_photos() -> tuple[list[tuple[str, np.ndarray]], list[str]]:
    """The real photographs of faces that ship in installed packages, offline.

    Returns:
        ([(name, `[H, W, 3]` uint8 RGB)] in `PACKAGED_PHOTOS` order, notes naming
        each photo left out because its package or file is missing).
    """
    photos, notes = [], []
    for name, (package, source) in PACKAGED_PHOTOS.items():
        try:
            photos.append((name, _load_packaged(name)))
        except (ImportError, OSError, ValueError) as error:
            notes.append(f"Packaged photo {name} left out: {source} of {package} did not load ({error}).")
    return photos, notes


PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def photo_specs(paths: list[str]) -> list[str]:
    """Photo files and `skimage:NAME` specs; each folder or glob replaced by its photos (sorted, not recursive).

    Raises:
        ImageReadError: for a path that does not exist or a folder without photos.
    """
    specs = []
    for path in (p.strip() for p in paths):
        if not path:
            continue
        if path.startswith("skimage:"):
            specs.append(path)
        elif os.path.isdir(path):
            found = sorted(
                os.path.join(path, name)
                for name in os.listdir(path)
                if name.lower().endswith(PHOTO_SUFFIXES) and not name.startswith(".")
            )
            if not found:
                raise ImageReadError(
                    f"Folder {path} holds no photos.", f"Put {', '.join(PHOTO_SUFFIXES)} files in it."
                )
            specs.extend(found)
        elif os.path.isfile(path):
            specs.append(path)
        elif glob.has_magic(path) and glob.glob(path):
            specs.extend(sorted(glob.glob(path)))
        else:
            raise ImageReadError(f"Photo {path} does not exist.", "Check the path, folder or glob.")
    return specs


def load_photos(
    paths: list[str], problems: list[str] | None = None
) -> tuple[list[tuple[str, np.ndarray]], dict[str, str]]:
    """Every photo of `paths` (files, folders, `skimage:NAME`), named by file stem.

    Args:
        paths: files, folders and `skimage:NAME` specs.
        problems: if given, a file that cannot be read is skipped and its error line appended here
            (the other photos are still loaded); if None, it raises.

    Returns:
        ([(name, `[H, W, 3]` uint8 RGB)], aliases: each path as given and file name -> name).
        A stem seen before gets `-2`, `-3`, ... so names stay distinct.

    Raises:
        ImageReadError: for a missing path, a folder without photos, a file that is not an image
            (without `problems`), or when no photo at all could be read.
    """
    photos, aliases, seen = [], {}, set()
    for spec in photo_specs(paths):
        try:
            image, name = load_photo(spec)
        except ImageReadError as error:
            if problems is None:
                raise
            problems.append(str(error))
            continue
        unique, k = name, 1
        while unique in seen:
            k += 1
            unique = f"{name}-{k}"
        seen.add(unique)
        photos.append((unique, image))
        aliases[spec] = unique
        aliases.setdefault(os.path.basename(spec), unique)
    if not photos:
        raise ImageReadError("None of the photos could be read: " + " ".join(problems or []))
    return photos, aliases
