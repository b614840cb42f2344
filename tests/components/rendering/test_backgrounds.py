import numpy as np
import pytest

from headsynth.components.rendering.backgrounds import (
    BUILTIN_PHOTOS,
    TEXTURE_KINDS,
    crop_background,
    load_backgrounds,
    procedural_texture,
    scene_background,
    texture_seed,
)
from headsynth.components.rendering.scenarios import SCENARIOS
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


PLACEMENT = {"background": 1.0, "bg_pick": 0.3, "bg_scale": 0.6, "bg_x": 0.2, "bg_y": 0.7}


@pytest.fixture(scope="module")
def photos():
    return load_backgrounds("builtin", max_side=128)


def _differs(a, b):
    return np.abs(a.astype(np.float64) - b).mean() > 0.01


def test_neutral_or_missing_factors_give_the_plain_crop(photos):
    plain = crop_background(photos, 0.3, 0.6, 0.2, 0.7, 24)
    neutral = SCENARIOS["angle"].sample(0, "train", 0)  # the defaults of every background factor
    for factors in (PLACEMENT, {**neutral, **PLACEMENT}):
        np.testing.assert_array_equal(scene_background(photos, factors, 24), plain)


@pytest.mark.parametrize(
    "change",
    [
        {"bg_flip": 1.0},
        {"bg_brightness": 1.2},
        {"bg_contrast": 0.7},
        {"bg_gain_r": 0.85, "bg_gain_b": 1.15},
        {"bg_procedural": 1.0, "bg_texture_seed": 0.25},
    ],
)
def test_flips_jitter_and_textures_change_the_crop_deterministically(photos, change):
    plain = scene_background(photos, PLACEMENT, 24)
    changed = scene_background(photos, {**PLACEMENT, **change}, 24)
    assert changed.shape == (24, 24, 3) and changed.dtype == np.float32
    assert 0.0 <= changed.min() and changed.max() <= 1.0
    assert _differs(changed, plain)
    np.testing.assert_array_equal(changed, scene_background(photos, {**PLACEMENT, **change}, 24))
    if "bg_flip" in change:
        np.testing.assert_array_equal(changed, plain[:, ::-1])


def test_procedural_textures_come_from_their_seed_alone():
    textures = [procedural_texture(seed, 32) for seed in range(24)]
    assert all(t.shape == (32, 32, 3) and t.dtype == np.float32 for t in textures)
    assert all(0.0 <= t.min() and t.max() <= 1.0 and t.std() > 0.01 for t in textures)
    assert all(_differs(a, b) for a, b in zip(textures, textures[1:], strict=False))
    np.testing.assert_array_equal(textures[5], procedural_texture(5, 32))
    assert len(TEXTURE_KINDS) == 4
    # A texture needs no photograph; a photograph scene without photographs is an error.
    texture = scene_background([], {**PLACEMENT, "bg_procedural": 1.0, "bg_texture_seed": 0.5}, 16)
    np.testing.assert_array_equal(texture, procedural_texture(texture_seed(0.5), 16))
    with pytest.raises(ValueError, match="needs background photographs"):
        scene_background([], PLACEMENT, 16)


def test_texture_seed_is_the_same_for_the_stored_float32_factor():
    values = np.random.default_rng(1).uniform(0.0, 1.0, 1000)
    assert [texture_seed(v) for v in values] == [texture_seed(np.float32(v)) for v in values]
    assert len({texture_seed(v) for v in values}) == 1000


def test_a_user_folder_gets_the_same_augmentations(tmp_path):
    import cv2

    rng = np.random.default_rng(0)
    cv2.imwrite(str(tmp_path / "a.png"), rng.integers(0, 255, (40, 60, 3), dtype=np.uint8))
    folder = load_backgrounds(str(tmp_path))
    scenario = SCENARIOS["angle_bg"]
    seen = {"flip": 0, "procedural": 0}
    for index in range(12):
        factors = scenario.sample(0, "train", index)
        image = scene_background(folder, factors, 16)
        np.testing.assert_array_equal(image, scene_background(folder, factors, 16))
        if factors["bg_procedural"] >= 0.5:
            seen["procedural"] += 1
            continue
        crop = crop_background(
            folder, factors["bg_pick"], factors["bg_scale"], factors["bg_x"], factors["bg_y"], 16
        )
        assert _differs(image, crop)  # jittered (and maybe flipped), never the plain crop
        seen["flip"] += factors["bg_flip"] >= 0.5
    assert seen["flip"] and seen["procedural"]
