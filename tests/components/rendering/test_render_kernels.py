"""The renderer's fast paths give the same pictures as the plain ways they replace."""

import cv2
import numpy as np
import pytest
import tensorflow as tf

from headsynth.components.rendering import rasterizer
from headsynth.components.rendering.codecs import encode_png
from headsynth.components.rendering.renderer import HeadRenderer, is_closed_mesh, signed_volume
from headsynth.components.rendering.scenarios import get_scenario
from headsynth.core.errors import RasterizerUnavailable

TETRAHEDRON = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32)
# Counter-clockwise seen from outside.
TETRAHEDRON_FACES = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]], np.int32)


def test_closed_mesh_and_winding_are_recognised(small_model):
    assert is_closed_mesh(small_model.triangles)
    assert is_closed_mesh(TETRAHEDRON_FACES)
    assert not is_closed_mesh(TETRAHEDRON_FACES[:3])  # one face missing: an open mesh keeps every triangle
    assert signed_volume(TETRAHEDRON, TETRAHEDRON_FACES) == pytest.approx(1 / 6)
    assert signed_volume(TETRAHEDRON, TETRAHEDRON_FACES[:, ::-1]) == pytest.approx(-1 / 6)
    assert signed_volume(small_model.shape.mean.reshape(-1, 3), small_model.triangles) > 0


def test_vertex_normals_equal_tensorflow_graphics(small_model):
    from tensorflow_graphics.geometry.representation.mesh import normals as mesh_normals

    rng = np.random.default_rng(0)
    vertices = small_model.vertices(rng.normal(size=(3, small_model.num_parameters)), 1.6)
    vertices = tf.constant(vertices + np.array([0, 0, -600], np.float32))
    triangles = tf.broadcast_to(small_model.triangles, [3, *small_model.triangles.shape])
    expected = tf.math.l2_normalize(mesh_normals.vertex_normals(vertices, triangles, clockwise=True), -1)
    normals, front = rasterizer.render_ops().vertex_normals_and_front_faces(
        vertices, small_model.triangles, outward_sign=1.0
    )
    np.testing.assert_allclose(normals.numpy(), expected.numpy(), atol=1e-5)
    # Facing the camera = counter-clockwise after perspective projection (x / -z, y / -z).
    projected = vertices.numpy()[..., :2] / -vertices.numpy()[..., 2:]
    a, b, c = (projected[:, small_model.triangles[:, i]] for i in range(3))
    area = (b - a)[..., 0] * (c - a)[..., 1] - (b - a)[..., 1] * (c - a)[..., 0]
    assert np.mean(front.numpy() == (area > 0)) > 0.999
    assert 0.3 < front.numpy().mean() < 0.8
    # Inward-wound meshes flip the test; a head reaching behind the camera keeps every triangle.
    _, inward = rasterizer.render_ops().vertex_normals_and_front_faces(
        vertices, small_model.triangles, outward_sign=-1.0
    )
    np.testing.assert_array_equal(inward.numpy(), ~front.numpy())
    behind = vertices.numpy().copy()
    behind[1, 0, 2] = 5.0
    _, kept = rasterizer.render_ops().vertex_normals_and_front_faces(behind, small_model.triangles)
    assert kept.numpy()[1].all() and not kept.numpy()[0].all()


def test_normals_op_rejects_bad_shapes_and_ids():
    op = rasterizer.render_ops().vertex_normals_and_front_faces
    with pytest.raises(tf.errors.InvalidArgumentError, match="vertices must be"):
        op(tf.zeros([2, 4, 2]), TETRAHEDRON_FACES)
    with pytest.raises(tf.errors.InvalidArgumentError, match="triangles must be"):
        op(tf.zeros([2, 4, 3]), TETRAHEDRON_FACES[:, :2])
    with pytest.raises(tf.errors.InvalidArgumentError, match="triangle vertex id 4"):
        op(tf.zeros([2, 4, 3]), TETRAHEDRON_FACES + 1)


def test_xla_shading_equals_the_plain_tensorflow_graph(small_model):
    """The XLA-compiled shading and projection compute what the same tfg code does op by op."""
    renderer = HeadRenderer(small_model, 64)
    rng = np.random.default_rng(4)
    factors = [get_scenario("all").sample(5, "train", i) for i in range(4)]
    scene = renderer.scene_tensors(factors)
    vertices = small_model.vertices(rng.normal(size=(4, small_model.num_parameters)), 1.6)
    camera_space = tf.constant(vertices + scene["translation"][:, None])
    normals, _ = rasterizer.render_ops().vertex_normals_and_front_faces(camera_space, small_model.triangles)
    albedo = small_model.colors(rng.normal(size=(4, small_model.num_parameters)), 1.6)
    sh_light = rng.normal(scale=0.3, size=(4, 9, 3)).astype(np.float32)
    args = (
        camera_space,
        normals,
        albedo,
        scene["fov"],
        scene["light_dir"],
        scene["light_rgb"],
        scene["ambient"],
    )
    compiled = renderer._shade_and_project(*args, sh_light)
    plain = renderer._shade_vertices_and_project(*args, sh_light)  # eager: every op on its own
    for fast, slow in zip(compiled, plain, strict=True):
        np.testing.assert_allclose(fast.numpy(), slow.numpy(), rtol=1e-5, atol=1e-5)
    shaded = plain[1].numpy()[..., :3]
    assert 0.05 < shaded.mean() < 0.95 and shaded.std() > 0.02  # a lit, not a blank, head


@pytest.mark.parametrize("scenario", ["angle", "all"])
def test_culling_back_faces_keeps_the_picture(small_model, scenario):
    from headsynth.components.rendering.backgrounds import load_backgrounds

    photos = load_backgrounds("builtin")
    culled = HeadRenderer(small_model, 96, backgrounds=photos)
    plain = HeadRenderer(small_model, 96, backgrounds=photos)
    plain.cull_back_faces = False  # read when the graph is traced, at the first render
    q = np.random.default_rng(1).normal(size=(8, small_model.num_parameters))
    factors = [get_scenario(scenario).sample(3, "train", i) for i in range(8)]
    a, b = culled.render(q, factors), plain.render(q, factors)
    np.testing.assert_array_equal(a.masks, b.masks)  # the silhouette is exact
    # Inside, only pixels where the head folds over itself (ears) may differ.
    differ = np.any(a.images != b.images, axis=-1)
    assert differ.sum() <= 0.01 * a.masks.sum()
    np.testing.assert_allclose(a.depth[a.masks], b.depth[b.masks], atol=1.0)


def test_supersampled_render_agrees_with_the_plain_one(small_model):
    q = np.random.default_rng(4).normal(size=(4, small_model.num_parameters))
    factors = [get_scenario("angle").sample(5, "train", i) for i in range(4)]
    plain = HeadRenderer(small_model, 64).render(q, factors)
    smooth = HeadRenderer(small_model, 64, antialias=2).render(q, factors)
    assert smooth.images.shape == plain.images.shape and smooth.depth.shape == plain.depth.shape
    # Only the silhouette's edge pixels may change side.
    assert np.mean(smooth.masks != plain.masks) < 0.03
    inside = plain.masks & smooth.masks
    assert np.abs(smooth.images.astype(int) - plain.images.astype(int))[inside].mean() < 6
    # Depth is averaged over blocks, so it moves only where the head folds over itself.
    assert np.mean(np.abs(smooth.depth - plain.depth)[inside] > 2.0) < 0.02


def _reference_composite(bary, ids, z_buffer, triangles, attributes, background):
    """The TensorFlow-op version of the pixel op (what the renderer did before it)."""
    foreground = tf.not_equal(z_buffer[0], 1.0)
    pixels = tf.where(foreground)
    weights = tf.gather_nd(bary[0], pixels)
    corners = tf.gather(triangles, tf.gather_nd(ids[0], pixels))
    values = tf.reduce_sum(weights[..., None] * tf.gather(attributes, corners), axis=1)
    rgb = tf.cast(tf.clip_by_value(tf.round(values[:, :3] * 255.0), 0.0, 255.0), tf.uint8)
    image = tf.tensor_scatter_nd_update(background, pixels, rgb)
    depth = tf.scatter_nd(pixels, values[:, 3], z_buffer.shape[1:])
    return image.numpy(), depth.numpy(), foreground.numpy()


def test_fused_op_matches_tfgs_rasteriser_op_and_tensorflow_ops():
    from tensorflow_graphics.rendering.kernels import rasterization_backend as cpu_backend

    rng = np.random.default_rng(2)
    clip = np.concatenate([TETRAHEDRON - 0.4, np.ones((4, 1), np.float32)], axis=1) * [0.9, 0.9, 0.5, 1]
    # Two images: the second moved and without one of its triangles.
    clip = tf.constant(np.stack([clip, clip + [0.1, -0.05, 0, 0]]).astype(np.float32))
    triangles = tf.constant(TETRAHEDRON_FACES)
    draw = tf.constant([[True, True, True, True], [True, False, True, True]])
    # Colours slightly outside [0, 1] check the clamp; depth is any float.
    attributes = tf.constant(rng.uniform(-0.1, 1.1, size=(2, 4, 4)).astype(np.float32))
    background = tf.constant(rng.integers(0, 256, size=(2, 40, 40, 3), dtype=np.uint8))
    image, depth, mask = rasterizer.render_ops().rasterize_and_composite(
        clip, triangles, draw, attributes, background
    )
    for b in range(2):
        drawn = tf.boolean_mask(triangles, draw[b])
        bary, ids, z_buffer = cpu_backend.render_ops.rasterize_triangles(clip[b], drawn, 40, 40, 1, 0)
        expected_image, expected_depth, expected_mask = _reference_composite(
            bary, ids, z_buffer, drawn, attributes[b], background[b]
        )
        assert 0.05 < expected_mask.mean() < 0.95
        np.testing.assert_array_equal(mask[b].numpy(), expected_mask)
        np.testing.assert_array_equal(image[b].numpy(), expected_image)
        np.testing.assert_allclose(depth[b].numpy(), expected_depth, rtol=1e-6, atol=1e-6)
    assert not np.array_equal(mask[0].numpy(), mask[1].numpy())


def test_fused_op_rejects_bad_shapes_and_ids():
    op = rasterizer.render_ops().rasterize_and_composite
    clip, triangles, draw = tf.zeros([1, 3, 4]), tf.constant([[0, 1, 2]]), tf.ones([1, 1], tf.bool)
    attributes, background = tf.zeros([1, 3, 4]), tf.zeros([1, 4, 4, 3], tf.uint8)
    with pytest.raises(tf.errors.InvalidArgumentError, match="clip must be"):
        op(tf.zeros([1, 3, 3]), triangles, draw, attributes, background)
    with pytest.raises(tf.errors.InvalidArgumentError, match="attributes must be"):
        op(clip, triangles, draw, tf.zeros([1, 3, 3]), background)
    with pytest.raises(tf.errors.InvalidArgumentError, match="background must be"):
        op(clip, triangles, draw, attributes, tf.zeros([2, 4, 4, 3], tf.uint8))
    with pytest.raises(tf.errors.InvalidArgumentError, match="triangle vertex id 7"):
        op(clip, tf.constant([[0, 1, 7]]), draw, attributes, background)
    with pytest.raises(tf.errors.InvalidArgumentError, match="draw must be"):
        op(clip, triangles, tf.ones([1, 2], tf.bool), attributes, background)


def test_missing_render_ops_name_the_fix(monkeypatch, tmp_path):
    monkeypatch.setattr(rasterizer, "RENDER_OPS", str(tmp_path / "render_ops.so"))
    rasterizer.render_ops.cache_clear()
    try:
        with pytest.raises(RasterizerUnavailable, match="have not been built") as raised:
            rasterizer.render_ops()
        assert "make setup" in str(raised.value) or "make setup" in getattr(raised.value, "fix", "")
    finally:
        rasterizer.render_ops.cache_clear()


@pytest.mark.parametrize("seed", [0, 1])
def test_png_encoder_is_lossless_and_readable(seed):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, size=(37, 53, 3), dtype=np.uint8)
    image[10:20] = 128  # flat rows, like a gray background
    data = encode_png(image)
    np.testing.assert_array_equal(tf.io.decode_png(data).numpy(), image)
    np.testing.assert_array_equal(
        cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[..., ::-1], image
    )
    assert encode_png(image) == data
    with pytest.raises(ValueError, match="uint8"):
        encode_png(image.astype(np.float32))


def test_model_matmuls_run_on_one_blas_thread(small_model, monkeypatch):
    """OpenBLAS's idle threads spin after each call and take a core from TensorFlow or another worker."""
    import threadpoolctl

    from headsynth.morphable.model import MorphableModel

    threads_seen = []
    vertices = MorphableModel.vertices

    def spy(self, *args, **kwargs):
        blas = threadpoolctl.threadpool_info()
        threads_seen.extend(pool["num_threads"] for pool in blas if pool["user_api"] == "blas")
        return vertices(self, *args, **kwargs)

    monkeypatch.setattr(MorphableModel, "vertices", spy)
    renderer = HeadRenderer(small_model, 32)
    q = np.zeros((2, small_model.num_parameters), np.float32)
    renderer.render(q, [get_scenario("angle").sample(0, "train", i) for i in range(2)])
    assert threads_seen and set(threads_seen) == {1}
