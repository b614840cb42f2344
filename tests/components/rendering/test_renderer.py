import numpy as np
import pytest

from headsynth.components.rendering.renderer import HeadRenderer
from headsynth.components.rendering.scenarios import get_scenario


@pytest.fixture(scope="module")
def renderer(small_model):
    return HeadRenderer(small_model, 48)


def _frontal(yaw=0.0, **overrides):
    return dict(get_scenario("none").sample(0, "train", 0), yaw_deg=yaw, **overrides)


def test_head_is_centred_and_inside_the_frame(renderer, small_model):
    batch = renderer.render(np.zeros((1, small_model.num_parameters)), [_frontal()])
    mask = batch.masks[0]
    assert batch.images.shape == (1, 48, 48, 3) and batch.images.dtype == np.uint8
    assert 0.15 < mask.mean() < 0.8
    assert not mask[0].any() and not mask[-1].any() and not mask[:, 0].any() and not mask[:, -1].any()
    rows, cols = np.nonzero(mask)
    assert abs(rows.mean() - 24) < 4 and abs(cols.mean() - 24) < 4


def test_depth_test_keeps_the_nearest_surface(renderer, small_model):
    # The visible surface of a frontal head is its face: depth well below the
    # camera-to-centre distance everywhere on the mask.
    scene = _frontal()
    batch = renderer.render(np.zeros((1, small_model.num_parameters)), [scene])
    depth = batch.depth[0][batch.masks[0]]
    # Ears stick out ~35 mm behind the centre and show from the front; the back of the head is ~110 mm.
    assert depth.max() < scene["distance_mm"] + 60
    assert depth.min() < scene["distance_mm"] - 60


def test_light_from_the_left_brightens_the_left_half(renderer, small_model):
    q = np.zeros((2, small_model.num_parameters))
    batch = renderer.render(q, [_frontal(light_azimuth_deg=-80.0), _frontal(light_azimuth_deg=80.0)])
    gray = batch.images.astype(float).mean(-1)
    left, right = gray[:, :, :24].mean(axis=(1, 2)), gray[:, :, 24:].mean(axis=(1, 2))
    assert left[0] > right[0] and right[1] > left[1]


def test_yaw_moves_the_nose_and_landmarks_follow(renderer, small_model):
    q = np.zeros((2, small_model.num_parameters))
    batch = renderer.render(q, [_frontal(-40.0), _frontal(40.0)])
    assert batch.landmarks.shape == (2, len(small_model.landmarks), 2)
    tip = 30  # iBUG nose tip
    assert batch.landmarks[0, tip, 0] < 24 < batch.landmarks[1, tip, 0] or (
        batch.landmarks[1, tip, 0] < 24 < batch.landmarks[0, tip, 0]
    )
    assert np.all((batch.landmarks > 0) & (batch.landmarks < 48))


def test_parameters_change_the_image_and_rendering_is_deterministic(renderer, small_model):
    rng = np.random.default_rng(0)
    q = rng.uniform(-1, 1, (2, small_model.num_parameters))
    scenes = [_frontal(), _frontal()]
    first = renderer.render(q, scenes)
    again = renderer.render(q, scenes, pad_to=8)
    np.testing.assert_array_equal(first.images, again.images)
    assert np.abs(first.images[0].astype(int) - first.images[1].astype(int)).mean() > 1.0


def test_photograph_backgrounds_fill_the_rest(small_model):
    from headsynth.components.rendering.backgrounds import load_backgrounds

    renderer = HeadRenderer(small_model, 32, backgrounds=load_backgrounds())
    scene = get_scenario("angle_bg").sample(0, "train", 3)
    batch = renderer.render(np.zeros((1, small_model.num_parameters)), [scene])
    outside = batch.images[0][~batch.masks[0]].astype(float)
    assert outside.std() > 5  # a photograph, not the flat gray


def test_sh_basis_matches_tensorflow_graphics():
    import tensorflow as tf
    from tensorflow_graphics.math import spherical_harmonics

    from headsynth.components.rendering.renderer import sh_basis

    rng = np.random.default_rng(3)
    directions = rng.normal(size=(16, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    degree, order = spherical_harmonics.generate_l_m_permutations(2)
    theta = np.arccos(directions[:, 2:3])
    phi = np.mod(np.arctan2(directions[:, 1:2], directions[:, 0:1]), 2 * np.pi)
    expected = spherical_harmonics.evaluate_spherical_harmonics(
        tf.broadcast_to(tf.cast(degree, tf.int32), [16, 9]),
        tf.broadcast_to(tf.cast(order, tf.int32), [16, 9]),
        tf.constant(theta),
        tf.constant(phi),
    )
    np.testing.assert_allclose(sh_basis(tf.constant(directions)).numpy(), expected.numpy(), atol=1e-5)


def test_sh_light_brightens_and_hair_darkens(renderer, small_model):
    q = np.zeros((3, small_model.num_parameters))
    plain = _frontal()
    hairy = dict(plain, scalp_hair=1.0, facial_hair=1.0, hair_tone=0.0)
    sh = np.zeros((3, 9, 3), np.float32)
    sh[1, 0] = 1.0  # band 0: uniform extra light
    batch = renderer.render(q, [plain, plain, hairy], sh_light=sh)
    head = batch.masks[0]
    brightness = batch.images.astype(float).mean(-1)
    assert brightness[1][head].mean() > brightness[0][head].mean() + 10
    top_rows = slice(0, 18)  # the scalp of a frontal head
    assert (
        brightness[2][top_rows][head[top_rows]].mean() < brightness[0][top_rows][head[top_rows]].mean() - 20
    )


def test_expression_moves_vertices_only_when_the_model_has_one(small_model):
    import dataclasses

    from headsynth.morphable.model import PcaPart

    without = dataclasses.replace(small_model, expression=None)
    renderer = HeadRenderer(without, 32)
    q = np.zeros((1, small_model.num_parameters))
    neutral = renderer.render(q, [_frontal()])
    ignored = renderer.render(q, [_frontal()], expression=np.ones((1, 2), np.float32))
    np.testing.assert_array_equal(neutral.images, ignored.images)
    size = small_model.shape.mean.shape[0]
    basis = np.zeros((size, 1), np.float32)
    basis[1::3, 0] = 1.0 / np.sqrt(size / 3)  # move every vertex up
    expressive = dataclasses.replace(
        without, expression=PcaPart(np.zeros(size, np.float32), basis, np.array([2000.0], np.float32))
    )
    moved = HeadRenderer(expressive, 32).render(q, [_frontal()], expression=np.ones((1, 1), np.float32))
    rows_neutral, rows_moved = np.nonzero(neutral.masks[0])[0], np.nonzero(moved.masks[0])[0]
    assert rows_moved.mean() < rows_neutral.mean() - 1.5  # the head moved up (~40 mm) in the image


def test_light_colour_temperature_warms_and_cools_the_head(renderer, small_model):
    q = np.zeros((3, small_model.num_parameters))
    white = _frontal()
    assert white["light_temperature_k"] == 6500.0
    legacy = {k: v for k, v in white.items() if k != "light_temperature_k"}  # factors from before the key
    warm, cool = dict(white, light_temperature_k=3000.0), dict(white, light_temperature_k=9000.0)
    batch = renderer.render(q, [warm, white, cool])
    np.testing.assert_array_equal(batch.images[1], renderer.render(q[:1], [legacy]).images[0])
    head = batch.masks[0]
    pixels = batch.images.astype(float)[:, head]  # [3, N, 3]
    red_minus_blue = (pixels[..., 0] - pixels[..., 2]).mean(axis=1)
    assert red_minus_blue[0] > red_minus_blue[1] + 10 > red_minus_blue[2] + 20
    brightness = pixels.mean(axis=(1, 2))
    assert np.all(np.abs(brightness - brightness[1]) < 25)  # colour, not intensity
