"""Renders batches of morphable-model heads with tensorflow-graphics.

Per batch: the model's vertices and colours for each q (numpy), rotation by
tfg's Euler matrices, vertex normals as tfg's mesh module defines them (and
the triangles facing the camera) from headsynth's C++ op, Lambertian shading
with tfg's BRDF (plus spherical-harmonics light) and tfg's perspective
projection compiled by XLA, then tfg's CPU rasteriser (the function its CPU
rasterisation backend's op wraps) on each image's front faces. Shading is per
vertex and interpolated with the rasteriser's barycentrics on foreground
pixels only, which keeps the costly part of tfg's full `triangle_rasterizer`
(per-pixel interpolation of many channels over the whole image) out of the
loop; the same C++ op that rasterises interpolates and composites the head
over its background. The light's colour is a black body at the scene's colour
temperature (`light_colour.blackbody_rgb`; 6500 K is white).

Coordinates: millimetres; camera at the origin looking along -z with +y up;
the head's mean centre is moved to (shift, -distance). Images have row 0 at
the top.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
import threadpoolctl

from headsynth.components.rendering import rasterizer
from headsynth.components.rendering.backgrounds import scene_background
from headsynth.components.rendering.light_colour import WHITE_K, blackbody_rgb
from headsynth.core.logs import filtered_stderr
from headsynth.morphable.model import MorphableModel

SENSOR_MM = 36.0  # 35 mm-equivalent: focal length -> field of view
GRAY = 0.5
# Lambertian convolution weights of SH bands 0, 1, 2 (Ramamoorthi & Hanrahan 2001).
SH_BAND_WEIGHTS = np.array([np.pi] + [2 * np.pi / 3] * 3 + [np.pi / 4] * 5, np.float32)
HAIR_DARK = np.array([0.07, 0.05, 0.04], np.float32)
HAIR_FAIR = np.array([0.62, 0.48, 0.28], np.float32)
SCALP_HAIR_THICKNESS_MM = 7.0


def sh_basis(directions):
    """Real spherical harmonics of bands 0-2 at unit `[..., 3]` directions -> `[..., 9]`.

    Closed form of tensorflow-graphics' `math.spherical_harmonics.evaluate_spherical_harmonics`
    (same order, normalisation and Condon-Shortley signs; z is the polar axis),
    checked against it in the tests; the closed form avoids tfg's per-sample
    Legendre loops over every vertex.
    """
    x, y, z = directions[..., 0], directions[..., 1], directions[..., 2]
    return tf.stack(
        [
            0.282095 * tf.ones_like(x),
            -0.488603 * y,
            0.488603 * z,
            -0.488603 * x,
            1.092548 * x * y,
            -1.092548 * y * z,
            0.315392 * (3.0 * z * z - 1.0),
            -1.092548 * x * z,
            0.546274 * (x * x - y * y),
        ],
        axis=-1,
    )


def hair_regions(model: MorphableModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Soft per-vertex weights of the scalp-hair and facial-hair regions, and outward directions.

    Found geometrically on the mean shape (y up, face along +z), so they work
    for any model in that orientation: the scalp is the top and back of the
    head above the ears; facial hair covers the lower face below the nose.
    """
    mean = model.shape.mean.reshape(-1, 3).astype(np.float64)
    centre = (mean.min(axis=0) + mean.max(axis=0)) / 2.0
    half = np.maximum((mean.max(axis=0) - mean.min(axis=0)) / 2.0, 1e-6)
    x, y, z = ((mean - centre) / half).T

    def ramp(value, start, end):
        return np.clip((value - start) / (end - start), 0.0, 1.0)

    front = ramp(z, 0.35, 0.6)  # the face itself
    top, back = ramp(y, 0.25, 0.45), ramp(-z, -0.1, 0.2) * ramp(y, -0.35, -0.1)
    # Keep the hairline above the brows: on the face only the top of the forehead gets hair.
    scalp = np.maximum(top, back) * (1.0 - front * (1.0 - ramp(y, 0.45, 0.6)))
    beard = ramp(-y, 0.3, 0.45) * ramp(z, 0.05, 0.3) * (1.0 - ramp(np.abs(x), 0.75, 0.9))
    outward = (mean - centre) / np.maximum(np.linalg.norm(mean - centre, axis=1, keepdims=True), 1e-6)
    return scalp.astype(np.float32), beard.astype(np.float32), outward.astype(np.float32)


def is_closed_mesh(triangles: np.ndarray) -> bool:
    """True if every edge of the triangle mesh is shared by exactly two triangles."""
    edges = np.sort(
        np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]]), axis=1
    )
    _, counts = np.unique(edges, axis=0, return_counts=True)
    return bool(len(counts)) and bool(np.all(counts == 2))


def signed_volume(vertices: np.ndarray, triangles: np.ndarray) -> float:
    """Signed volume enclosed by a closed mesh: positive if its triangles wind counter-clockwise outward."""
    v = vertices.astype(np.float64)[triangles]
    return float(np.einsum("ti,ti->", v[:, 0], np.cross(v[:, 1], v[:, 2])) / 6.0)


@dataclass
class RenderedBatch:
    """Rendered examples of one batch (B examples, H = W = image size).

    Attributes:
        images: `[B, H, W, 3]` uint8 RGB.
        masks: `[B, H, W]` bool, True where the head covers the pixel.
        depth: `[B, H, W]` float32 distance along the view axis in mm (0 = background);
            None if the renderer was made with `with_depth=False`.
        landmarks: `[B, L, 2]` float32 (x, y) pixel positions of the landmark vertices.
    """

    images: np.ndarray
    masks: np.ndarray
    depth: np.ndarray | None
    landmarks: np.ndarray


class HeadRenderer:
    """Renders heads of one morphable model at one image size.

    Args:
        model: the morphable model.
        image_size: output side in pixels.
        scale: p = scale * sigma * q.
        antialias: supersampling factor (1 = off; 2 renders at 2x and averages).
        backgrounds: photographs for scenes whose `background` factor is 1.
        with_depth: also render depth maps (skipping them saves a full-image pass).
    """

    def __init__(
        self,
        model: MorphableModel,
        image_size: int,
        scale: float = 1.6,
        antialias: int = 1,
        backgrounds: list[np.ndarray] | None = None,
        with_depth: bool = True,
    ) -> None:
        if image_size < 8:
            raise ValueError(f"image_size must be at least 8. Received: {image_size}")
        if antialias < 1:
            raise ValueError(f"antialias must be >= 1. Received: {antialias}")
        rasterizer.require_rasterizer()
        self.model = model
        self.image_size = image_size
        self.scale = scale
        self.antialias = antialias
        self.backgrounds = backgrounds or []
        self.with_depth = with_depth
        mean = model.shape.mean.reshape(-1, 3)
        self._centre = (mean.min(axis=0) + mean.max(axis=0)) / 2.0
        self._scalp, self._beard, self._outward = hair_regions(model)
        self._triangles = tf.constant(model.triangles, dtype=tf.int32)
        self._landmarks = tf.constant(model.landmarks, dtype=tf.int32)
        self.cull_back_faces = is_closed_mesh(model.triangles)
        # +1 if counter-clockwise face normals point out of the head.
        self._outward_sign = float(np.sign(signed_volume(mean, model.triangles)) or 1.0)
        self._gray = np.full((image_size, image_size, 3), round(GRAY * 255), np.uint8)
        # The model's matmuls run on one BLAS thread: OpenBLAS's idle threads spin
        # (in sched_yield) after every call, which took 0.6 of a core from
        # TensorFlow's threads, or from the other render worker, for a 1 ms gain.
        self._blas = threadpoolctl.ThreadpoolController()
        # One trace per batch size: tfg's rasteriser loops over a static batch
        # dimension, so shapes must stay fully known (callers pad with pad_to).
        # No autograph: the graphs have only Python loops over static sizes.
        self._render = tf.function(self._render_graph, autograph=False)
        self._first_call = True
        self._shade_and_project = tf.function(
            self._shade_vertices_and_project, jit_compile=True, autograph=False
        )

    # The graph -----------------------------------------------------------

    def _render_graph(
        self,
        vertices,
        albedo,
        background,
        angles,
        translation,
        fov,
        light_dir,
        light_rgb,
        ambient,
        sh_light,
    ):
        # tensorflow_graphics is heavy: imported at the first render
        from tensorflow_graphics.geometry.transformation import rotation_matrix_3d

        rotation = rotation_matrix_3d.from_euler(angles)  # [B, 3, 3]
        camera_space = tf.einsum("bij,bvj->bvi", rotation, vertices) + translation[:, None, :]
        normals, front_facing = rasterizer.render_ops().vertex_normals_and_front_faces(
            camera_space, self._triangles, outward_sign=self._outward_sign
        )
        clip, attributes, landmarks = self._shade_and_project(
            camera_space, normals, albedo, fov, light_dir, light_rgb, ambient, sh_light
        )
        image, depth, mask = self._rasterize_and_shade_pixels(
            clip, attributes, front_facing if self.cull_back_faces else None, background
        )
        return image, depth, mask, landmarks

    def _shade_vertices_and_project(
        self, camera_space, normals, albedo, fov, light_dir, light_rgb, ambient, sh_light
    ):
        """tfg's Lambertian shading plus SH light per vertex, and tfg's perspective projection.

        Compiled with XLA (`jit_compile`): its element-wise chains over
        `[B, V, 3]` become a few fused loops instead of about forty
        full-size TensorFlow ops, which cost twice as much as the
        rasterisation. Every reduction here is an explicit sum in a fixed
        order, so the bytes do not depend on the number of threads. XLA
        compiles for the host's instruction set, so another CPU model may
        differ in the last bit of a few values (images within 1 level).

        Args:
            camera_space: `[B, V, 3]` vertices in mm, camera at the origin.
            normals: `[B, V, 3]` unit vertex normals.
            albedo: `[B, V, 3]` in [0, 1].
            fov: `[B, 1]` vertical field of view in radians.
            light_dir: `[B, 3]` unit direction towards the light.
            light_rgb: `[B, 3]` light colour times intensity.
            ambient: `[B, 1]` ambient light.
            sh_light: `[B, 9, 3]` spherical-harmonics light coefficients.

        Returns:
            `[B, V, 4]` clip coordinates (y flipped so row 0 is the image's top),
            `[B, V, 4]` shaded rgb and depth (mm) per vertex, and `[B, L, 2]` landmarks in pixels.
        """
        # tensorflow_graphics is heavy: imported at the first render
        from tensorflow_graphics.rendering import utils as render_utils
        from tensorflow_graphics.rendering.camera import perspective
        from tensorflow_graphics.rendering.reflectance import lambertian

        to_light = light_dir[:, None, :]  # [B, 1, 3], broadcast by tfg
        to_camera = tf.math.l2_normalize(-camera_space, axis=-1)
        brdf = lambertian.brdf(-to_light, to_camera, normals, albedo)
        cosine = tf.maximum(tf.reduce_sum(normals * to_light, axis=-1, keepdims=True), 0.0)
        # Spherical-harmonics light: irradiance E(n) = sum_lm A_l L_lm Y_lm(n), reflected as albedo/pi * E.
        # Written out as nine multiply-adds: XLA fuses them into the element-wise loop,
        # where a reduce over a [B, V, 9, 3] product or a matmul costs 2-3x as much.
        weighted = SH_BAND_WEIGHTS[None, :, None] * sh_light  # [B, 9, 3]
        basis = tf.unstack(sh_basis(normals), axis=-1)  # 9 x [B, V]
        irradiance = basis[0][..., None] * weighted[:, None, 0]  # [B, V, 3]
        for band in range(1, 9):
            irradiance = irradiance + basis[band][..., None] * weighted[:, None, band]
        shaded = (
            math.pi * brdf * cosine * light_rgb[:, None, :]
            + ambient[:, :, None] * albedo
            + albedo / math.pi * tf.maximum(irradiance, 0.0)
        )
        shaded = tf.clip_by_value(shaded, 0.0, 1.0)
        attributes = tf.concat([shaded, -camera_space[..., 2:3]], axis=-1)  # rgb + depth

        ones = tf.ones_like(fov)
        projection = perspective.right_handed(fov, ones, 0.01 * ones, 5.0 * ones)
        # Metres for the rasteriser: its fixed-point maths overflows for clip
        # coordinates in the hundreds (millimetres), which garbles depth tests.
        flip_y = tf.constant([1.0, -1.0, 1.0, 1.0])[:, None]
        clip = render_utils.transform_homogeneous(projection * flip_y, camera_space / 1000.0)  # [B, V, 4]
        marks = tf.gather(clip, self._landmarks, axis=1)  # [B, L, 4], y already flipped
        ndc = marks[..., :2] / marks[..., 3:4]
        landmarks = (ndc + 1.0) * (0.5 * self.image_size)
        return clip, attributes, landmarks

    def _rasterize_and_shade_pixels(self, clip, attributes, front_facing, background):
        """tfg's CPU rasteriser per image, barycentric interpolation of the head's pixels, composite.

        At k = 1, headsynth's op (`kernels/render_ops.cc`) runs tfg's
        rasteriser function on each image's front faces and interpolates and
        composites the head's pixels in the same pass: tfg's op wrapper also
        allocates and clears full-image buffers per image, and its backend
        wrapper builds full-image framebuffers of every attribute, which cost
        more than the rasterisation itself (a head covers about a third of the
        image). Supersampled renders (k > 1) call tfg's op at k times the size
        and interpolate, pool and composite with TensorFlow ops.
        The clip coordinates come with y flipped, so row 0 is the image's top.

        Args:
            clip: `[B, V, 4]` clip coordinates, y flipped.
            attributes: `[B, V, 4]` shaded rgb and depth (mm) per vertex.
            front_facing: `[B, T]` triangles to draw, or None for all.
            background: `[B, H, W, 3]` uint8.

        Returns:
            `[B, H, W, 3]` uint8 images, `[B, H, W]` depth (0 off the head;
            None unless `with_depth`) and the `[B, H, W]` bool mask.
        """
        if front_facing is None:
            front_facing = tf.ones([clip.shape[0], self._triangles.shape[0]], tf.bool)
        if self.antialias == 1:
            image, depth, mask = rasterizer.render_ops().rasterize_and_composite(
                clip, self._triangles, front_facing, attributes, background
            )
            return image, depth if self.with_depth else None, mask
        return self._supersample(clip, attributes, front_facing, background)

    def _supersample(self, clip, attributes, front_facing, background):
        """`_rasterize_and_shade_pixels` at k = antialias > 1: k times the size, averaged over k x k blocks."""
        # tensorflow_graphics is heavy: imported at the first render
        from tensorflow_graphics.rendering.kernels import rasterization_backend as cpu_backend

        batch = int(clip.shape[0])  # static: the op runs once per image
        size, k = self.image_size * self.antialias, self.antialias
        images, depths, masks = [], [], []
        for index in range(batch):
            triangles = tf.boolean_mask(self._triangles, front_facing[index])
            bary, ids, z_buffer = cpu_backend.render_ops.rasterize_triangles(
                clip[index], triangles, size, size, 1, int(cpu_backend.FaceCullingMode.NONE)
            )
            foreground = tf.not_equal(z_buffer[0], 1.0)  # [H, W]
            pixels = tf.where(foreground)  # [N, 2] (row, column)
            weights = tf.gather_nd(bary[0], pixels)  # [N, 3]
            corner_ids = tf.gather(triangles, tf.gather_nd(ids[0], pixels))  # [N, 3]
            values = tf.reduce_sum(weights[..., None] * tf.gather(attributes[index], corner_ids), axis=1)
            # Colours are premultiplied by coverage.
            dense = tf.scatter_nd(pixels, values, [size, size, 4])[None]
            coverage = tf.nn.avg_pool2d(tf.cast(foreground, tf.float32)[None, ..., None], k, k, "VALID")[0]
            pooled = tf.nn.avg_pool2d(dense, k, k, "VALID")[0]
            composite = pooled[..., :3] + tf.cast(background[index], tf.float32) / 255.0 * (1.0 - coverage)
            images.append(tf.cast(tf.clip_by_value(tf.round(composite * 255.0), 0.0, 255.0), tf.uint8))
            if self.with_depth:
                depths.append(pooled[..., 3] / tf.maximum(coverage[..., 0], 1e-6))
            masks.append(coverage[..., 0] > 0.5)
        return tf.stack(images), tf.stack(depths) if self.with_depth else None, tf.stack(masks)

    # Numpy side ------------------------------------------------------------

    def scene_tensors(self, factors: list[dict[str, float]]) -> dict[str, np.ndarray]:
        """Turns per-example factor dicts into the graph's camera and light inputs."""

        def column(name: str) -> np.ndarray:
            return np.array([f[name] for f in factors], dtype=np.float64)

        fov = 2.0 * np.arctan(SENSOR_MM / 2.0 / column("focal_mm"))
        distance = column("distance_mm")
        half_extent = distance * np.tan(fov / 2.0)
        translation = np.stack(
            [column("shift_x") * half_extent, column("shift_y") * half_extent, -distance], axis=-1
        )
        azimuth, elevation = (
            np.radians(column("light_azimuth_deg")),
            np.radians(column("light_elevation_deg")),
        )
        light_dir = np.stack(
            [np.sin(azimuth) * np.cos(elevation), np.sin(elevation), np.cos(azimuth) * np.cos(elevation)],
            axis=-1,
        )
        # Light colour: a black body at the scene's colour temperature (6500 K: white), times an
        # extra per-channel tint and the intensity.
        temperature = np.array([f.get("light_temperature_k", WHITE_K) for f in factors], np.float64)
        light_rgb = np.stack([column("light_r"), column("light_g"), column("light_b")], axis=-1)
        light_rgb *= column("light_intensity")[:, None] * blackbody_rgb(temperature)
        angles = np.radians(np.stack([column("pitch_deg"), column("yaw_deg"), column("roll_deg")], axis=-1))
        return {
            "angles": angles.astype(np.float32),
            "translation": translation.astype(np.float32),
            "fov": fov[:, None].astype(np.float32),
            "light_dir": light_dir.astype(np.float32),
            "light_rgb": light_rgb.astype(np.float32),
            "ambient": column("ambient")[:, None].astype(np.float32),
        }

    def render(
        self,
        q: np.ndarray,
        factors: list[dict[str, float]],
        pad_to: int | None = None,
        sh_light: np.ndarray | None = None,
        expression: np.ndarray | None = None,
    ) -> RenderedBatch:
        """Renders one batch.

        Args:
            q: `[B, m]` unscaled parameters.
            factors: B dicts of scene factors (see `scenarios.Scenario.sample`).
            pad_to: pad the batch to this size so the graph is traced once.
            sh_light: `[B, 9, 3]` spherical-harmonics light coefficients (None: no SH light).
            expression: `[B, k]` expression coefficients in sigma units (None: neutral).

        Returns:
            The rendered batch (padding removed).
        """
        q = np.asarray(q, dtype=np.float32)
        count = len(q)
        if count != len(factors):
            raise ValueError(f"Got {count} parameter vectors but {len(factors)} scenes.")
        if sh_light is None:
            sh_light = np.zeros((count, 9, 3), np.float32)
        if pad_to and count < pad_to:
            extra = pad_to - count
            q = np.concatenate([q, np.repeat(q[-1:], extra, axis=0)])
            factors = list(factors) + [factors[-1]] * extra
            sh_light = np.concatenate([sh_light, np.repeat(sh_light[-1:], extra, axis=0)])
            if expression is not None:
                expression = np.concatenate([expression, np.repeat(expression[-1:], extra, axis=0)])
        with self._blas.limit(limits=1, user_api="blas"):
            vertices = self.model.vertices(q, self.scale) - self._centre.astype(np.float32)
            if expression is not None and self.model.expression is not None:
                part = self.model.expression
                offsets = (np.asarray(expression, np.float32) * part.sigma) @ part.basis.T
                vertices = vertices + offsets.reshape(vertices.shape)
            albedo = self.model.colors(q, self.scale)
        vertices, albedo = self.add_hair(vertices, albedo, factors)
        scene = self.scene_tensors(factors)
        background = np.stack([self.background_uint8(f) for f in factors])
        # On the CPU even where a GPU is visible: the rasteriser and headsynth's ops
        # are CPU kernels, and the XLA-compiled shading gives the same bytes only
        # for the same compiled code (as on every worker of a machine).
        # The first call compiles the shading with XLA, whose service announces itself on stderr.
        quiet = filtered_stderr() if self._first_call else contextlib.nullcontext()
        self._first_call = False
        with tf.device("/CPU:0"), quiet:
            image, depth, mask, landmarks = self._render(
                vertices, albedo, background, sh_light=np.asarray(sh_light, np.float32), **scene
            )
        return RenderedBatch(
            images=image.numpy()[:count],
            masks=mask.numpy()[:count],
            depth=depth.numpy()[:count] if depth is not None else None,
            landmarks=landmarks.numpy()[:count].astype(np.float32),
        )

    def add_hair(
        self, vertices: np.ndarray, albedo: np.ndarray, factors: list[dict[str, float]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Paints the scalp/facial-hair proxies of scenes that switch them on.

        Scalp hair also gets volume: scalp vertices move outward by a few mm.
        """
        scalp_on = np.array([f.get("scalp_hair", 0.0) >= 0.5 for f in factors])
        beard_on = np.array([f.get("facial_hair", 0.0) >= 0.5 for f in factors])
        if not (scalp_on.any() or beard_on.any()):
            return vertices, albedo
        tone = np.array([f.get("hair_tone", 0.0) for f in factors], np.float32)[:, None, None]
        hair_rgb = HAIR_DARK * (1.0 - tone) + HAIR_FAIR * tone  # [B, 1, 3]
        scalp = scalp_on[:, None, None] * self._scalp[None, :, None]
        beard = beard_on[:, None, None] * self._beard[None, :, None] * 0.85
        weight = np.maximum(scalp, beard).astype(np.float32)
        albedo = albedo * (1.0 - weight) + hair_rgb * weight
        vertices = vertices + SCALP_HAIR_THICKNESS_MM * scalp * self._outward[None]
        return vertices.astype(np.float32), albedo.astype(np.float32)

    def background_uint8(self, factors: dict[str, float]) -> np.ndarray:
        """`[H, W, 3]` uint8 background of one example (as `background`, quantised)."""
        if factors["background"] >= 0.5:
            return np.clip(np.rint(self.background(factors) * 255.0), 0, 255).astype(np.uint8)
        return self._gray

    def background(self, factors: dict[str, float]) -> np.ndarray:
        """`[H, W, 3]` float background of one example (see `backgrounds.scene_background`)."""
        if factors["background"] >= 0.5:
            return scene_background(self.backgrounds, factors, self.image_size)
        return np.full((self.image_size, self.image_size, 3), GRAY, dtype=np.float32)
