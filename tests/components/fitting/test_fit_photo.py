"""The photo fitter on the three photos that ship in installed packages, and on renders with known pose."""

import time

import numpy as np
import pytest
from PIL import Image

from headsynth.components.fitting.fit import FitOptions, fit_photo
from headsynth.components.fitting.landmarks import FaceMeshLandmarker, face_landmarks
from headsynth.components.fitting.overlay import landmark_error, overlay_in_photo_pose
from headsynth.components.fitting.pose import base_factors, fit_crop_pose, landmark_points, project_landmarks
from headsynth.components.identity.detection import FaceDetector
from headsynth.components.rendering.renderer import HeadRenderer
from headsynth.core.photos import as_rgb_uint8
from headsynth.morphable.landmarks import ibug68
from headsynth.morphable.loading import load_model


def packaged_photos() -> dict[str, np.ndarray]:
    from matplotlib import cbook
    from skimage import data

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        grace = np.asarray(Image.open(f).convert("RGB"))
    return {"astronaut": data.astronaut(), "cameraman": as_rgb_uint8(data.camera()), "grace_hopper": grace}


@pytest.fixture(scope="module")
def model():
    return load_model("builtin", 8, 8)


@pytest.fixture(scope="module")
def model16():
    return load_model("builtin", 16, 16)


@pytest.fixture(scope="module")
def photo_points():
    photos = packaged_photos()
    with FaceDetector() as detector, FaceMeshLandmarker() as landmarker:
        return {n: (p, face_landmarks(p, detector.detect(p), landmarker)) for n, p in photos.items()}


def test_packaged_photos_fit_within_two_pixels_fast(model16, photo_points):
    model = model16
    for name, (photo, points) in photo_points.items():
        start = time.perf_counter()
        fit = fit_photo(model, photo, points, scale=1.6)
        seconds = time.perf_counter() - start
        assert seconds < 1.0, (name, seconds)
        # Measured 1.0-1.8 px mean on faces 100-200 px wide; the mean face alone is far worse.
        assert fit.mean_residual < 2.5, (name, fit.mean_residual)
        mean_only = fit_photo(
            model, photo, points, 1.6, FitOptions(shape_regularisation=1e9, fit_expression=False)
        )
        assert mean_only.mean_residual > 1.1 * fit.mean_residual, name
        assert fit.q.shape == (32,) and np.all(np.isfinite(fit.q)) and fit.expression.shape == (4,)
        assert fit.texture_mode == ("luminance" if name == "cameraman" else "rgb")
        assert fit.texture_samples > 500


def test_grayscale_photo_can_keep_the_mean_texture(model, photo_points):
    photo, points = photo_points["cameraman"]
    fit = fit_photo(model, photo, points, 1.6, FitOptions(grayscale_texture="mean"))
    assert fit.texture_mode == "mean" and not np.any(fit.q[8:])
    assert np.any(fit_photo(model, photo, points, 1.6).q[8:])


def test_same_photo_same_fit(model, photo_points):
    photo, _ = photo_points["astronaut"]
    with FaceDetector() as detector, FaceMeshLandmarker() as landmarker:
        again = face_landmarks(photo, detector.detect(photo), landmarker)
    assert np.array_equal(again, photo_points["astronaut"][1])
    one, two = fit_photo(model, photo, again), fit_photo(model, photo, again)
    assert one.q.tobytes() == two.q.tobytes()


SCENES = [
    dict(yaw_deg=-30.0, pitch_deg=6.0, roll_deg=-6.0, shift_x=0.05, shift_y=-0.04),
    dict(yaw_deg=25.0, pitch_deg=-5.0, roll_deg=8.0, shift_x=-0.06, shift_y=0.03),
]


def test_pose_and_shape_recovered_from_a_render(model):
    """Render known heads and poses, fit mediapipe's landmarks of the render, re-render with the result."""
    size = 256
    renderer = HeadRenderer(model, size, 1.6, with_depth=False)
    q_true = np.random.default_rng(3).uniform(-1, 1, (len(SCENES), model.num_parameters)).astype(np.float32)
    factors = [{**base_factors(), **scene} for scene in SCENES]
    truth = renderer.render(q_true, factors)
    # The numpy projection is the renderer's.
    for i in range(len(SCENES)):
        projected = project_landmarks(landmark_points(model, q_true[i]), factors[i], size)
        np.testing.assert_allclose(projected, truth.landmarks[i], atol=0.01)
    correlations = []
    with FaceMeshLandmarker() as landmarker:
        for i, scene in enumerate(SCENES):
            points = landmarker.landmarks(truth.images[i])[0]
            fit = fit_photo(model, truth.images[i], points)
            pose = fit_crop_pose(model, fit.q, points, size, expression=fit.expression)
            # Yaw and roll within a few degrees. Pitch is the weak angle: on 8 random renders
            # (yaw +-40, pitch and roll +-10) its error was -3..+14 degrees, +4.5 on average
            # (mediapipe reads our renders' jaw ~5 px above the model's jaw vertices), yaw's
            # at most 3.8 and roll's 2.9.
            assert abs(pose.factors["yaw_deg"] - scene["yaw_deg"]) < 5, pose.pose_dict()
            assert abs(pose.factors["roll_deg"] - scene["roll_deg"]) < 4, pose.pose_dict()
            assert abs(pose.factors["pitch_deg"] - scene["pitch_deg"]) < 12, pose.pose_dict()
            again = renderer.render(fit.q[None], [pose.factors], expression=fit.expression[None])
            distances = np.linalg.norm(again.landmarks[0] - truth.landmarks[i], axis=1)
            # Pixels of a 256 px image; the jaw contour carries mediapipe's bias on renders (5-10 px).
            assert distances[17:].mean() < 3.0 and distances.mean() < 5.0, distances
            correlations.append(fit.q[:8])
            # The overlay draws the true head where the render is, with a small landmark error.
            shown = overlay_in_photo_pose(renderer, q_true[i], truth.images[i], truth.landmarks[i])
            assert shown.landmark_error < 0.01 and shown.mask.mean() > 0.1
            assert landmark_error(again.landmarks[0], points) < 0.1
    # Pooled over both heads' 8 shape components (16 pairs): measured 0.21 here, 0.4-0.9 per head
    # on other renders; mediapipe's jaw bias on renders is what limits it.
    pooled = np.corrcoef(np.concatenate(correlations), q_true[:, :8].reshape(-1))[0, 1]
    assert pooled > 0.15, pooled


def test_q_of_a_dozen_rendered_heads_is_recovered(model):
    """12 known heads (q ~ U(-1.5, 1.5)) at yaw +-30, pitch and roll +-8: pooled correlation of the fitted
    with the true q and mean squared error against the mean face's (q = 0).

    From the renderer's own 68 landmarks the shape is the fitter's alone (measured: r 0.81, error 0.29
    against 0.75); from mediapipe's landmarks of the render, what `headsynth fit` does, its jaw bias on
    renders costs shape accuracy (r 0.52, error 0.58). Texture comes from the render's colours (r 0.61).
    """
    size, n = 256, 12
    renderer = HeadRenderer(model, size, 1.6, with_depth=False)
    rng = np.random.default_rng(5)
    q_true = rng.uniform(-1.5, 1.5, (n, model.num_parameters)).astype(np.float32)
    angles = [
        dict(
            yaw_deg=float(rng.uniform(-30, 30)),
            pitch_deg=float(rng.uniform(-8, 8)),
            roll_deg=float(rng.uniform(-8, 8)),
        )
        for _ in range(n)
    ]
    truth = renderer.render(q_true, [{**base_factors(), **a} for a in angles])
    with FaceMeshLandmarker() as landmarker:
        mediapipe = np.stack(
            [fit_photo(model, image, landmarker.landmarks(image)[0]).q for image in truth.images]
        )
    exact = np.stack([fit_photo(model, truth.images[i], truth.landmarks[i]).q for i in range(n)])
    shape, texture = slice(0, 8), slice(8, 16)

    def pooled(fitted, part):
        return np.corrcoef(fitted[:, part].ravel(), q_true[:, part].ravel())[0, 1]

    def error(fitted, part):
        return np.mean((fitted[:, part] - q_true[:, part]) ** 2)

    naive = np.mean(q_true[:, shape] ** 2)
    assert pooled(exact, shape) > 0.7 and error(exact, shape) < 0.5 * naive
    assert pooled(mediapipe, shape) > 0.4 and error(mediapipe, shape) < 0.85 * naive
    assert pooled(mediapipe, texture) > 0.5 and error(mediapipe, texture) < 0.75 * np.mean(
        q_true[:, texture] ** 2
    )


def test_landmark_error_is_relative_to_the_inter_ocular_distance():
    points = np.random.default_rng(0).uniform(0, 100, (68, 2))
    moved = points + [3.0, 4.0]
    assert landmark_error(moved, points) == pytest.approx(5.0 / np.linalg.norm(points[45] - points[36]))
    assert ibug68(np.zeros((468, 2))).shape == (68, 2)
