"""Face framing of renders: cropped around the detected face like photos, deterministic, with a fallback."""

import hashlib

import numpy as np
import pytest
import tensorflow as tf
from conftest import decode_png, write_model_and_parameters

from headsynth.components.identity.detection import (
    FACE_CROP_ENLARGE,
    FaceBox,
    FaceFramer,
    face_crop_square,
    square_crop,
)
from headsynth.components.rendering.framing import crop_square_of, frame_batch, landmark_square
from headsynth.components.rendering.render_job import RenderJob, run_render_job
from headsynth.components.rendering.renderer import HeadRenderer
from headsynth.components.rendering.scenarios import get_scenario
from headsynth.components.rendering.shard_plan import read_examples
from headsynth.morphable.loading import load_model


@pytest.fixture(scope="module")
def builtin_small():
    return load_model("builtin", 4, 4)


@pytest.fixture(scope="module")
def framer():
    with FaceFramer() as framer:
        yield framer


@pytest.fixture(scope="module")
def portrait_renders(builtin_small):
    """8 renders of the portrait scenario at 192x192 (backgrounds, pose, light), q of 0.5 sigma."""
    renderer = HeadRenderer(builtin_small, 192, with_depth=False, backgrounds=[np.full((64, 64, 3), 0.3)])
    factors = [get_scenario("portrait").sample(3, "train", i) for i in range(8)]
    q = np.random.default_rng(0).uniform(-0.5, 0.5, (8, builtin_small.num_parameters))
    return renderer.render(q, factors)


def test_crops_put_the_face_where_the_photo_crop_puts_it(portrait_renders, framer):
    framed, detected = frame_batch(portrait_renders, framer, 96)
    assert framed.images.shape == (8, 96, 96, 3) and framed.masks.shape == (8, 96, 96)
    assert detected.all()
    for image, mask, landmarks in zip(framed.images, framed.masks, framed.landmarks, strict=True):
        # Detected again in the crop, the face is centred and 1/1.5 of the side, as in a cropped photo.
        face = framer.find(image)
        centre, side = face_crop_square(face)
        assert np.allclose(centre, (48, 48), atol=6)
        assert side == pytest.approx(96, rel=0.12)
        assert mask.mean() > 0.2  # the head fills much of the crop
        assert ((landmarks > 0) & (landmarks < 96)).all()  # landmarks moved with the crop


def test_landmark_fallback_is_close_to_the_detector(portrait_renders, framer):
    for image, landmarks in zip(portrait_renders.images, portrait_renders.landmarks, strict=True):
        (cx, cy), side = framer.square(image)
        (lx, ly), landmark_side = landmark_square(landmarks)
        assert landmark_side == pytest.approx(side, rel=0.2)
        assert abs(lx - cx) < 0.1 * side and abs(ly - cy) < 0.1 * side


def test_a_render_without_a_detectable_face_is_cropped_around_its_landmarks(framer):
    blank = np.full((96, 96, 3), 128, np.uint8)
    landmarks = np.array([[30.0, 30.0], [60.0, 40.0], [45.0, 70.0]], np.float32)
    centre, side, detected = crop_square_of(blank, landmarks, framer)
    assert not detected
    assert (centre, side) == landmark_square(landmarks)


def test_full_range_box_is_refined_by_the_short_range_model(portrait_renders, framer):
    image = portrait_renders.images[0]
    face = framer.find(image)
    # A rough box around the face (as the full-range detector gives in a large photo) lands on the same box.
    rough = FaceBox(face.x0 - 8, face.y0 + 5, face.x1 + 4, face.y1 + 9, 0.9, face.keypoints)
    refined = framer.find(image, near=rough)
    assert np.allclose(refined.centre, face.centre, atol=3)
    assert refined.width == pytest.approx(face.width, rel=0.08)


def test_the_face_fills_one_over_the_enlargement_of_its_crop(portrait_renders, framer):
    """Framing is a fixed point: the detector finds the cropped face centred, 1/1.5 of the crop wide."""
    for image in portrait_renders.images[:4]:
        centre, side = face_crop_square(framer.find(image))
        crop = square_crop(image, centre, side, 128)
        again = framer.find(crop)
        assert again.width == pytest.approx(128 / FACE_CROP_ENLARGE, rel=0.1)
        assert np.allclose(again.centre, (64, 64), atol=128 * 0.05)


def test_face_framed_job_is_deterministic_and_stores_crops(tmp_path, builtin_small):
    write_model_and_parameters(tmp_path, builtin_small, 6, 2, seed=4)
    digests = []
    for run in ("a", "b"):
        job = RenderJob(
            str(tmp_path / "model.npz"),
            str(tmp_path / "params.npz"),
            str(tmp_path / run),
            scenario="portrait",
            eval_scenario="portrait",
            image_size=64,
            batch_size=4,
            num_shards=2,
            framing="face",
        )
        assert job.rendered_size == 96
        run_render_job(job)
        files = sorted((tmp_path / run).glob("Split-*/*"))
        digests.append([hashlib.sha256(p.read_bytes()).hexdigest() for p in files])
    assert digests[0] == digests[1]
    feature = tf.train.Example.FromString(read_examples(str(tmp_path / "a"), "train")[0]).features.feature
    assert decode_png(feature["image"].bytes_list.value[0]).shape == (64, 64, 3)
