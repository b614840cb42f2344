"""Backgrounds: photographs (built-in ones from scikit-image, or a user's folder) and textures.

A scene with `background` 1 gets a randomly scaled and placed crop of one
photograph (`crop_background`), or, with probability `bg_procedural`, a
procedural texture (`procedural_texture`: a smooth gradient, fractal value
noise, stripes or checks in random colours, drawn from `bg_texture_seed`).
Either is then flipped left-right (`bg_flip`) and colour-jittered
(`bg_brightness`, `bg_contrast`, per-channel `bg_gain_r/g/b`) by
`scene_background`. Every choice comes from the example's factors, so the
same factors give the same bytes; a user's folder gets the same treatment as
the built-in photographs. With the defaults (no flip, no jitter, no
textures) the crop is returned untouched.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from headsynth.core.errors import ConfigError, DataError
from headsynth.core.photos import PHOTO_SUFFIXES

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
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES)
        if not files:
            raise ConfigError(
                f"Background folder {folder} holds no images ({', '.join(PHOTO_SUFFIXES)}).",
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


# The background factors' neutral values: a scene without them (or with these) gets the plain crop.
NEUTRAL_FACTORS = {
    "bg_flip": 0.0,
    "bg_brightness": 1.0,
    "bg_contrast": 1.0,
    "bg_gain_r": 1.0,
    "bg_gain_g": 1.0,
    "bg_gain_b": 1.0,
    "bg_procedural": 0.0,
    "bg_texture_seed": 0.0,
}
TEXTURE_KINDS = ("gradient", "noise", "stripes", "checks")


def scene_background(photos: list[np.ndarray], factors: dict[str, float], size: int) -> np.ndarray:
    """`[size, size, 3]` float32 background of a scene with photographs (its `background` is 1).

    A crop of a photograph or (if `bg_procedural` >= 0.5) a procedural texture,
    then flipped and colour-jittered by the scene's factors (missing ones are neutral).

    Raises:
        ValueError: if the scene needs a photograph but none were loaded.
    """
    f = {**NEUTRAL_FACTORS, **factors}
    if f["bg_procedural"] >= 0.5:
        image = procedural_texture(texture_seed(f["bg_texture_seed"]), size)
    else:
        if not photos:
            raise ValueError("This scene needs background photographs but none were loaded.")
        image = crop_background(photos, f["bg_pick"], f["bg_scale"], f["bg_x"], f["bg_y"], size)
    gains = (f["bg_gain_r"], f["bg_gain_g"], f["bg_gain_b"])
    return jitter_background(image, f["bg_flip"] >= 0.5, f["bg_brightness"], f["bg_contrast"], gains)


def jitter_background(
    image: np.ndarray, flip: bool, brightness: float, contrast: float, gains: tuple[float, float, float]
) -> np.ndarray:
    """Flips an `[H, W, 3]` image left-right, scales its contrast about its mean and multiplies
    each channel by `brightness * gain`; clipped to [0, 1]. Neutral values return it untouched."""
    gain = float(brightness) * np.asarray(gains, dtype=np.float32)
    if not flip and contrast == 1.0 and np.all(gain == 1.0):
        return image
    image = image[:, ::-1] if flip else image
    if contrast != 1.0:
        mean = np.float32(image.mean(dtype=np.float64))
        image = mean + (image - mean) * np.float32(contrast)
    image = np.clip(image * gain, np.float32(0.0), np.float32(1.0))
    return np.ascontiguousarray(image, dtype=np.float32)


def texture_seed(value: float) -> int:
    """The integer seed of a texture from its factor; the same for the factor as stored (float32)."""
    return int(np.floor(float(np.float32(value)) * 2.0**24)) % 2**32


def procedural_texture(seed: int, size: int) -> np.ndarray:
    """`[size, size, 3]` float32 texture in [0, 1], made at the output size from its seed alone.

    One of: a linear or radial gradient, fractal value noise (random lattice
    values smoothly upsampled, 1-3 octaves, 2-8 cells), stripes or checks at a
    random frequency, angle and sharpness; its 1-D pattern picks colours along
    a ramp through three random colours.
    """
    rng = np.random.default_rng([seed, 17])
    kind = TEXTURE_KINDS[int(rng.integers(len(TEXTURE_KINDS)))]
    palette = rng.uniform(0.0, 1.0, size=(3, 3))
    y, x = (np.mgrid[0:size, 0:size].astype(np.float32) + 0.5) / size  # [size, size] each, in (0, 1)
    angle = rng.uniform(0.0, np.pi)
    u = x * np.cos(angle) + y * np.sin(angle)
    v = -x * np.sin(angle) + y * np.cos(angle)
    if kind == "gradient":
        if rng.uniform() < 0.5:
            t = u
        else:
            t = np.hypot(x - rng.uniform(), y - rng.uniform())
    elif kind == "noise":
        t = _value_noise(rng, size)
    else:
        frequency, phase = rng.uniform(2.0, 12.0), rng.uniform(0.0, 2.0 * np.pi)
        wave = np.sin(2.0 * np.pi * frequency * u + phase)
        if kind == "checks":
            wave = wave * np.sin(2.0 * np.pi * frequency * v + phase)
        t = 0.5 + 0.5 * np.tanh(rng.uniform(1.0, 8.0) * wave)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    ramp = np.array([0.0, 0.5, 1.0])
    image = np.stack([np.interp(t, ramp, palette[:, channel]) for channel in range(3)], axis=-1)
    return np.ascontiguousarray(image, dtype=np.float32)


def _value_noise(rng: np.random.Generator, size: int) -> np.ndarray:
    """`[size, size]` fractal value noise: octaves of random lattices, bicubically upsampled."""
    cells, octaves = int(rng.integers(2, 9)), int(rng.integers(1, 4))
    total = np.zeros((size, size), np.float64)
    for octave in range(octaves):
        lattice = rng.uniform(0.0, 1.0, size=(cells * 2**octave + 1,) * 2)
        total += 0.5**octave * cv2.resize(lattice, (size, size), interpolation=cv2.INTER_CUBIC)
    return total
