import numpy as np
import pytest

from headsynth.components.rendering.backgrounds import BUILTIN_PHOTOS, crop_background, load_backgrounds
from headsynth.core.errors import ConfigError, DataError


def test_builtin_photographs_load_offline():
    photos = load_backgrounds("builtin", max_side=128)
    assert len(photos) == len(BUILTIN_PHOTOS)
    assert all(
        p.dtype == np.float32 and p.ndim == 3 and p.shape[2] == 3 and max(p.shape[:2]) <= 128 for p in photos
    )
    assert all(0.0 <= p.min() and p.max() <= 1.0 for p in photos)


def test_user_folder_of_photographs(tmp_path):
    import cv2

    rng = np.random.default_rng(0)
    for name in ("a.png", "sub/b.jpg"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        cv2.imwrite(str(tmp_path / name), rng.integers(0, 255, (40, 60, 3), dtype=np.uint8))
    (tmp_path / "notes.txt").write_text("not an image, not picked up")
    photos = load_backgrounds(str(tmp_path))
    assert len(photos) == 2
    crop = crop_background(photos, pick=0.99, scale=0.5, x=1.0, y=0.0, size=16)
    assert crop.shape == (16, 16, 3)


def test_empty_or_missing_folder_names_it(tmp_path):
    with pytest.raises(ConfigError, match=f"{tmp_path}.*holds no images"):
        load_backgrounds(str(tmp_path))
    with pytest.raises(ConfigError, match="does not exist"):
        load_backgrounds(str(tmp_path / "missing"))


def test_unreadable_image_names_the_file(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 this is not really a jpeg")
    with pytest.raises(DataError, match="broken.jpg is not a readable image"):
        load_backgrounds(str(tmp_path))
