"""Identities of the built-in head: correlated traits, shape changes and painted skin.

`FaceAtlas` holds everything that is computed once on the base head (see
`geometry.py`): anatomical regions found from mediapipe's face points,
a set of shape-change fields (each a `[V, 3]` displacement of about one
population standard deviation: head size, face width, jaw, chin, nose length,
width and projection, eye spacing/size/tilt, brow ridge, mouth width, lips,
cheekbones, ears, weight, age sag, ...) and the feature geometry used to paint
a texture (eye openings, irises, lash lines, brows, lips, mouth line,
nostrils, beard area, wrinkle lines).

`identity_shape` and `identity_texture` turn one identity's traits plus its
own random draws into vertex positions and colours. Traits correlate as in a
real population (see `sample_traits`): men have larger heads, wider faces and
jaws, larger noses, heavier brow ridges, lower and thicker brows, thinner lips
and sometimes stubble or a beard; with age, noses and ears grow, the lower face
sags, lips thin, wrinkles and under-eye shadows appear and hair greys; darker
skin goes with darker hair and irises.
"""

from __future__ import annotations

import numpy as np

from builtin_face_model import geometry as geo

TRAIT_NAMES = (
    "sex",
    "age",
    "skin_tone",
    "face_width",
    "nose_size",
    "brow_thickness",
    "stubble",
    "weight",
    "hair_darkness",
)

SKIN_LIGHT = np.array([0.90, 0.72, 0.62])
SKIN_MEDIUM = np.array([0.74, 0.53, 0.40])
SKIN_DARK = np.array([0.33, 0.21, 0.15])
HAIR_COLOURS = np.array(
    [
        [0.05, 0.04, 0.035],  # black
        [0.16, 0.10, 0.06],  # dark brown
        [0.33, 0.22, 0.13],  # light brown
        [0.58, 0.46, 0.30],  # blond
        [0.45, 0.20, 0.09],  # red
    ]
)
SHAPE_VARIATION = 2.2  # scales every anatomical shape field: identities differ visibly
# Per-field gains on top: features face-recognition networks weigh heavily vary
# more; those that quickly look odd (lips, grooves) less.
FIELD_GAINS = {
    "head_size": 0.6,
    "vault_height": 0.8,
    "forehead_slope": 0.8,
    "nose_length": 1.2,
    "nose_tip": 1.0,
    "nose_width": 1.2,
    "nostril_flare": 1.1,
    "eye_height": 1.2,
    "eye_spacing": 1.2,
    "mouth_height": 1.1,
    "face_length": 1.2,
    "eye_opening": 0.7,
    "eye_size": 0.8,
    "lip_fullness": 0.6,
    "upper_lip": 0.6,
    "lower_lip": 0.6,
    "mouth_corners": 0.6,
    "sag": 0.7,
    "weight": 0.8,
}
IRIS_COLOURS = np.array(
    [
        [0.18, 0.10, 0.05],  # dark brown
        [0.33, 0.20, 0.09],  # light brown / hazel
        [0.28, 0.36, 0.20],  # green
        [0.28, 0.42, 0.58],  # blue
        [0.40, 0.44, 0.46],  # grey
    ]
)


def sample_traits(count: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draws correlated identity traits like a real population's.

    sex is 1 for men; age in years (18-80); skin_tone in [0, 1] (light to
    dark); face_width, nose_size, brow_thickness and weight are z-scores whose
    means depend on sex and age; stubble in [0, 1] (men only); hair_darkness in
    [0, 1] (dark hair is far more common, and always with dark skin).
    """
    sex = (rng.uniform(size=count) < 0.5).astype(np.float64)
    age = 18.0 + 62.0 * rng.beta(1.3, 1.6, size=count)
    age_z = (age - 45.0) / 17.0
    skin_tone = np.clip(rng.beta(1.4, 2.2, size=count), 0.0, 1.0)
    weight = rng.normal(0.25 * age_z + 0.1 * sex, 0.9)
    face_width = rng.normal(0.55 * sex - 0.27 + 0.35 * weight, 0.8)
    nose_size = rng.normal(0.6 * sex - 0.3 + 0.35 * age_z + 0.2 * skin_tone, 0.8)
    brow_thickness = rng.normal(0.8 * sex - 0.4 - 0.2 * age_z, 0.7)
    has_beard = rng.uniform(size=count) < 0.55
    stubble = sex * has_beard * rng.uniform(0.25, 1.0, size=count)
    hair_darkness = np.clip(0.45 + 0.9 * skin_tone + rng.normal(0.0, 0.35, size=count), 0.0, 1.0)
    return {
        "sex": sex,
        "age": age,
        "skin_tone": skin_tone,
        "face_width": face_width,
        "nose_size": nose_size,
        "brow_thickness": brow_thickness,
        "stubble": stubble,
        "weight": weight,
        "hair_darkness": hair_darkness,
    }


# Helpers -------------------------------------------------------------------


def _smoothstep(value, edge0, edge1):
    t = np.clip((np.asarray(value, dtype=np.float64) - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _gauss(points: np.ndarray, centre, sigma) -> np.ndarray:
    offset = (points - np.asarray(centre, dtype=np.float64)) / np.asarray(sigma, dtype=np.float64)
    return np.exp(-0.5 * np.sum(offset**2, axis=-1))


def _segment_distance(xy: np.ndarray, polyline: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance from `[N, 2]` points to a polyline, and the arc-length fraction of the nearest point."""
    a, b = polyline[:-1], polyline[1:]
    ab = b - a
    length = np.linalg.norm(ab, axis=1)
    t = np.clip(np.einsum("nsk,sk->ns", xy[:, None] - a[None], ab) / np.maximum(length**2, 1e-12), 0, 1)
    nearest = a[None] + t[..., None] * ab[None]
    distance = np.linalg.norm(xy[:, None] - nearest, axis=-1)
    best = np.argmin(distance, axis=1)
    cumulative = np.concatenate([[0.0], np.cumsum(length)])
    rows = np.arange(len(xy))
    fraction = (cumulative[best] + t[rows, best] * length[best]) / cumulative[-1]
    return distance[rows, best], fraction


def _polygon_sdf(xy: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Signed distance (negative inside) from `[N, 2]` points to a closed polygon."""
    from matplotlib.path import Path as PolygonPath

    closed = np.concatenate([polygon, polygon[:1]])
    distance, _ = _segment_distance(xy, closed)
    inside = PolygonPath(polygon).contains_points(xy)
    return np.where(inside, -distance, distance)


def _mix(colours: np.ndarray, target, alpha) -> np.ndarray:
    alpha = np.asarray(alpha, dtype=np.float64)
    if alpha.ndim == 1:
        alpha = alpha[:, None]
    return colours * (1.0 - alpha) + np.asarray(target, dtype=np.float64) * alpha


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals, pointing away from the mesh centre."""
    v0, v1, v2 = vertices[triangles[:, 0]], vertices[triangles[:, 1]], vertices[triangles[:, 2]]
    face = np.cross(v1 - v0, v2 - v0)
    normals = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(normals, triangles[:, k], face)
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    if np.mean(np.sum(normals * (vertices - vertices.mean(axis=0)), axis=1)) < 0:
        normals = -normals
    return normals


# The atlas -----------------------------------------------------------------


class FaceAtlas:
    """Regions, shape-change fields and paint geometry of the base head.

    Args:
        base: the sampled base head.
        extra_fields: further `[V, 3]` shape fields of one standard deviation
            each (e.g. the difference between two real faces), used as they are.
    """

    def __init__(self, base: geo.BaseHead, extra_fields: dict[str, np.ndarray] | None = None) -> None:
        self.base = base
        self.extra_fields = dict(extra_fields or {})
        p = base.vertices
        self.p = p
        fp = base.surface.points  # [479, 3] face points in the same frame
        self.fp = fp
        self.normals = vertex_normals(p, base.triangles)
        self.front = _smoothstep(p[:, 2], fp[234, 2] + 5.0, fp[234, 2] + 25.0)
        self.face = base.face_blend
        self._shape_fields()
        self._paint_geometry()

    # Shape ---------------------------------------------------------------

    def _shape_fields(self) -> None:
        p, fp, n, front = self.p, self.fp, self.normals, self.front
        x, y, z = p.T
        zero = np.zeros(len(p))

        def vec(dx=zero, dy=zero, dz=zero):
            return np.stack([dx + zero, dy + zero, dz + zero], axis=1)

        eye_y, eye_z = fp[geo.RIGHT_IRIS, 1], fp[geo.RIGHT_IRIS, 2]
        chin, nose_tip, nasion = fp[geo.CHIN], fp[geo.NOSE_TIP], fp[geo.NASION]
        tragion_z = self.base.surface.tragion[2]
        centre = np.array([0.0, eye_y - 10.0, tragion_z])
        side = np.sign(x)
        lower = _smoothstep(-y, -(fp[2, 1]), -(fp[2, 1] - 30.0))  # below the nose
        eyes = sum(_gauss(p, (s * 31.5, eye_y, eye_z), (12.0, 8.0, 12.0)) for s in (-1, 1))
        upper_lids = sum(_gauss(p, (s * 31.5, fp[159, 1] + 1.0, eye_z), (9.0, 3.0, 10.0)) for s in (-1, 1))
        lower_lids = sum(_gauss(p, (s * 31.5, fp[145, 1] - 1.0, eye_z), (9.0, 3.0, 10.0)) for s in (-1, 1))
        eye_dx = x - side * 31.5
        mouth = _gauss(p, (0.0, fp[13, 1], fp[13, 2]), (22.0, 9.0, 14.0)) * front
        lips = _gauss(p, (0.0, fp[13, 1], fp[13, 2]), (18.0, 6.0, 10.0)) * front
        upper_lip = _gauss(p, (0.0, fp[0, 1] - 1.5, fp[0, 2]), (16.0, 3.5, 10.0)) * front
        lower_lip = _gauss(p, (0.0, fp[17, 1] + 2.5, fp[17, 2]), (16.0, 4.0, 10.0)) * front
        corners = sum(_gauss(p, (s * fp[291, 0], fp[291, 1], fp[291, 2]), (7.0, 6.0, 8.0)) for s in (-1, 1))
        nose = _gauss(p, (0.0, (nasion[1] + fp[2, 1]) / 2, nose_tip[2] - 8.0), (13.0, 22.0, 16.0)) * front
        tip = _gauss(p, nose_tip, (9.0, 8.0, 10.0))
        alae = sum(_gauss(p, (s * fp[64, 0], fp[64, 1], fp[64, 2]), (6.0, 6.0, 8.0)) for s in (-1, 1))
        dorsum = _gauss(p, (0.0, (nasion[1] + nose_tip[1]) / 2 + 4.0, fp[197, 2]), (6.0, 8.0, 10.0))
        chin_w = _gauss(p, chin + np.array([0.0, 6.0, 0.0]), (20.0, 14.0, 16.0))
        jaw = sum(_gauss(p, (s * 56.0, fp[172, 1], fp[172, 2]), (22.0, 22.0, 26.0)) for s in (-1, 1))
        brow_ridge = sum(
            _gauss(p, (s * 24.0, fp[107, 1] - 2.0, fp[107, 2] - 6.0), (20.0, 7.0, 14.0)) for s in (-1, 1)
        )
        brows = sum(_gauss(p, (s * 33.0, fp[105, 1], fp[105, 2]), (20.0, 8.0, 14.0)) for s in (-1, 1))
        brow_band = sum(
            _gauss(p, (s * 34.0, fp[105, 1] - 1.0, fp[105, 2]), (16.0, 5.0, 14.0)) for s in (-1, 1)
        )
        brow_tail = sum(
            _gauss(p, (s * 44.0, fp[105, 1], fp[105, 2] - 5.0), (8.0, 5.0, 12.0)) for s in (-1, 1)
        )
        cheekbones = sum(
            _gauss(p, (s * 52.0, fp[117, 1] - 6.0, fp[117, 2] - 8.0), (14.0, 12.0, 16.0)) for s in (-1, 1)
        )
        cheeks = sum(_gauss(p, (s * 40.0, fp[13, 1] + 4.0, -35.0), (16.0, 18.0, 16.0)) for s in (-1, 1))
        temples = sum(_gauss(p, (s * 62.0, eye_y + 25.0, eye_z - 25.0), (14.0, 18.0, 18.0)) for s in (-1, 1))
        jowls = sum(_gauss(p, (s * 42.0, chin[1] + 20.0, -40.0), (16.0, 14.0, 18.0)) for s in (-1, 1))
        neck_front = _gauss(p, (0.0, chin[1] - 20.0, chin[2] - 35.0), (35.0, 20.0, 25.0))
        nasolabial = np.zeros(len(p))
        for s in (-1, 1):
            d, _ = _segment_distance(
                p[:, :2],
                np.array(
                    [[s * 22.0, fp[64, 1] - 1.0], [s * 33.0, fp[61, 1] - 2.0], [s * 36.0, fp[61, 1] - 12.0]]
                ),
            )
            nasolabial += np.exp(-0.5 * (d / 4.0) ** 2) * (side == s) * front
        ears = self.base.surface.ear_offset(
            self.base.directions, np.linalg.norm(p - self.base.surface.centre, axis=1)
        )
        forehead = _gauss(p, (0.0, fp[10, 1] + 10.0, fp[10, 2]), (45.0, 22.0, 30.0)) * _smoothstep(
            y, fp[9, 1], fp[10, 1]
        )
        # The lower face, from the nose down to the chin and onto the neck, fading to the sides.
        lower_face = _smoothstep(-y, -fp[2, 1], -fp[2, 1] + 55.0) * (1.0 - _smoothstep(np.abs(x), 35.0, 75.0))
        lower_face *= _smoothstep(z, tragion_z + 10.0, tragion_z + 60.0)
        face = self.face
        fields = {
            # Skull.
            "head_size": 0.03 * (p - centre),
            "head_breadth": vec(dx=0.035 * x * (1 - 0.6 * face)),
            "head_length": vec(dz=-8.0 * _smoothstep(-z, -tragion_z, -tragion_z + 60.0)),
            "vault_height": vec(dy=7.0 * _smoothstep(y, eye_y + 20.0, eye_y + 110.0)),
            "temples": 2.5 * temples[:, None] * n,
            # Face outline.
            "face_width": vec(dx=0.05 * x * face * (0.4 + 0.6 * lower)),
            "face_length": vec(dy=-4.0 * lower_face),
            "face_roundness": 2.5 * (face * (1 - front) * _smoothstep(-y, -eye_y, -eye_y + 40))[:, None] * n,
            "jaw_width": vec(dx=0.07 * x * jaw),
            "chin_projection": vec(dz=3.5 * chin_w),
            "chin_height": vec(dy=-3.0 * chin_w),
            "chin_width": vec(dx=0.1 * x * chin_w),
            "forehead_slope": vec(dz=-3.0 * forehead),
            # Nose.
            "nose_length": vec(dy=-0.09 * (y - nasion[1]) * nose * (y < nasion[1])),
            "nose_width": vec(dx=0.13 * x * _gauss(p, (0, fp[2, 1] + 3, fp[2, 2]), (16, 9, 16))),
            "nose_projection": vec(dz=3.5 * nose * _smoothstep(z, fp[64, 2] - 6, nose_tip[2])),
            "nose_bridge": vec(dz=2.0 * _gauss(p, (0, nasion[1] - 10, nasion[2]), (6, 12, 10))),
            "nose_hump": vec(dz=1.5 * dorsum),
            "nose_tip": vec(dy=2.0 * tip),
            "nose_tip_size": 0.1 * tip[:, None] * (p - nose_tip + np.array([0.0, 0.0, 6.0])),
            "nostril_flare": vec(dx=2.0 * side * alae),
            # Eyes and brows.
            "eye_spacing": vec(dx=side * 2.2 * eyes),
            "eye_size": 0.09 * vec(dx=eye_dx * eyes, dy=(y - eye_y) * eyes),
            "eye_width": vec(dx=0.1 * eye_dx * eyes),
            "eye_opening": vec(dy=1.2 * upper_lids - 0.6 * lower_lids),
            "eye_height": vec(dy=2.0 * np.maximum(eyes, brows)),
            "eye_depth": vec(dz=-2.0 * eyes),
            "eye_tilt": vec(dy=0.07 * (np.abs(x) - 31.5) * eyes),
            "brow_ridge": vec(dz=3.0 * brow_ridge),
            "brow_height": vec(dy=2.5 * brows),
            "brow_lift": vec(dy=1.8 * brow_band),
            "brow_arch": vec(dy=2.0 * brow_tail),
            # Mouth.
            "mouth_width": vec(dx=0.08 * x * mouth),
            "lip_fullness": vec(dy=0.18 * (y - fp[13, 1]) * lips, dz=1.5 * lips),
            "upper_lip": vec(dy=1.2 * upper_lip, dz=1.0 * upper_lip),
            "lower_lip": vec(dy=-1.2 * lower_lip, dz=1.2 * lower_lip),
            "mouth_height": vec(dy=-2.0 * np.maximum(mouth, chin_w)),
            "mouth_corners": vec(dy=1.5 * corners),
            # Cheeks, ears, weight, age.
            "cheekbones": 3.0 * cheekbones[:, None] * n,
            "cheek_fullness": 3.0 * cheeks[:, None] * n,
            "ears": 0.25 * ears[:, None] * n,
            "weight": (2.5 * cheeks + 3.0 * jowls + 3.0 * neck_front)[:, None] * n,
            "sag": vec(dy=-2.5 * jowls - 1.5 * cheeks) - 0.6 * nasolabial[:, None] * n,
        }
        gains = {name: SHAPE_VARIATION * FIELD_GAINS.get(name, 1.0) for name in fields}
        for name, field in self.extra_fields.items():
            fields[name], gains[name] = field, 1.0
        self.field_names = tuple(fields)
        self.fields = np.stack([gains[k] * fields[k] for k in self.field_names])  # [F, V, 3]
        # Smooth random bumps for individual variation (fixed centres, random amplitudes):
        # broad ones anywhere on the head, smaller ones on the face.
        rng = np.random.default_rng(7)
        bumps = []
        for k in range(40):
            direction = rng.normal(size=3)
            direction[2] = abs(direction[2]) * (1.5 if k < 20 else 4.0)
            direction /= np.linalg.norm(direction)
            idx = np.argmax(self.base.directions @ direction)
            width = rng.uniform(12.0, 35.0) if k < 20 else rng.uniform(7.0, 14.0)
            bumps.append((1.2 if k < 20 else 0.7) * _gauss(p, p[idx], width)[:, None] * n)
        self.bumps = SHAPE_VARIATION * np.stack(bumps)

    # Paint geometry -------------------------------------------------------

    def _paint_geometry(self) -> None:
        p, fp = self.p, self.fp
        xy = p[:, :2]
        self.xy = xy
        in_front = p[:, 2] > fp[234, 2] + 10.0
        big = 1e3

        def sdf(indices):
            return np.where(in_front, _polygon_sdf(xy, fp[indices, :2]), big)

        self.eye_sdf = np.minimum(sdf(geo.RIGHT_EYE), sdf(geo.LEFT_EYE))
        self.iris_distance = np.minimum(
            np.linalg.norm(xy - fp[geo.RIGHT_IRIS, :2], axis=1),
            np.linalg.norm(xy - fp[geo.LEFT_IRIS, :2], axis=1),
        )
        upper_lid = []
        for eye in (geo.RIGHT_EYE, geo.LEFT_EYE):
            d, _ = _segment_distance(xy, fp[eye[:9], :2] + np.array([0.0, 0.4]))
            upper_lid.append(d)
        self.upper_lid_distance = np.where(in_front, np.minimum(*upper_lid), big)
        self.above_eye = (self.eye_sdf > 0) & (
            xy[:, 1] > np.interp(np.abs(xy[:, 0]), [17.0, 31.5, 45.0], [fp[133, 1], fp[145, 1], fp[33, 1]])
        )
        self.lips_sdf = sdf(geo.LIPS_OUTER)
        mouth_line = 0.5 * (fp[geo.UPPER_INNER_LIP, :2] + fp[geo.LOWER_INNER_LIP, :2])
        d, _ = _segment_distance(xy, mouth_line)
        self.mouth_line_distance = np.where(in_front, d, big)
        self.mouth_line = mouth_line
        # Brows: the mid-line between mediapipe's upper and lower brow contours, from
        # the inner end (fraction 0) to the tail (fraction 1).
        brow_lines = [
            0.5 * (fp[geo.RIGHT_BROW_UPPER, :2] + fp[geo.RIGHT_BROW_LOWER, :2])[::-1],
            0.5 * (fp[geo.LEFT_BROW_UPPER, :2] + fp[geo.LEFT_BROW_LOWER, :2])[::-1],
        ]
        self.brow_distances = [_segment_distance(xy, line) for line in brow_lines]
        self.in_front = in_front
        # Nostrils: dark ellipses under the nose, between the wing and the columella.
        self.nostrils = []
        for s in (-1, 1):
            centre = np.array([s * 7.5, fp[2, 1] + 2.5, fp[2, 2] + 3.0])
            offset = (p - centre) / np.array([4.2, 2.4, 4.5])
            self.nostrils.append(np.exp(-0.5 * np.sum(offset**2, axis=1) ** 2))
        self.nostril = np.maximum(*self.nostrils) * (self.normals[:, 1] < 0.3)
        # Beard area: below the nose and in front of the ears, down onto the neck.
        y = p[:, 1]
        moustache = _smoothstep(-(y - fp[2, 1]), 2.5, 5.0) * _smoothstep(y, fp[0, 1] - 1.0, fp[0, 1] + 2.0)
        moustache *= 1.0 - _smoothstep(np.abs(p[:, 0]), 22.0, 32.0)
        jaw_area = _smoothstep(-(y - fp[61, 1]), 0.0, 8.0) * _smoothstep(
            y, fp[geo.CHIN, 1] - 40.0, fp[geo.CHIN, 1] - 15.0
        )
        sideburn = _smoothstep(-np.abs(p[:, 0]), -72.0, -52.0) * _smoothstep(
            y, fp[61, 1], fp[geo.RIGHT_IRIS, 1]
        )
        sideburn *= _smoothstep(
            p[:, 2], self.base.surface.tragion[2] - 5.0, self.base.surface.tragion[2] + 12.0
        )
        ahead_of_ears = _smoothstep(
            p[:, 2], self.base.surface.tragion[2], self.base.surface.tragion[2] + 20.0
        )
        chin_area = _smoothstep(-y, -(fp[17, 1] - 2.0), -(fp[17, 1] - 8.0)) * (
            1 - _smoothstep(np.abs(p[:, 0]), 14, 22)
        )
        self.beard = np.clip(np.maximum(jaw_area * ahead_of_ears, sideburn), 0, 1)
        self.moustache = moustache * (self.lips_sdf > 1.0)
        self.goatee = chin_area * _smoothstep(p[:, 2], fp[geo.CHIN, 2] - 30, fp[geo.CHIN, 2] - 10)
        self.lip_clear = _smoothstep(self.lips_sdf, 0.5, 2.0)
        # Skin regions.
        self.cheek_area = sum(
            _gauss(p, (s * 42.0, fp[50, 1] - 4.0, fp[50, 2]), (13.0, 11.0, 14.0)) for s in (-1, 1)
        )
        self.nose_area = _gauss(p, fp[geo.NOSE_TIP] + np.array([0, 2, -3]), (9.0, 10.0, 8.0))
        self.under_eye = sum(
            _gauss(p, (s * 30.0, fp[145, 1] - 5.0, fp[145, 2]), (10.0, 3.5, 8.0)) for s in (-1, 1)
        )
        self.eyelid = sum(
            _gauss(p, (s * 31.0, fp[159, 1] + 4.0, fp[159, 2]), (11.0, 3.5, 9.0)) for s in (-1, 1)
        )
        self.eyelid *= self.above_eye
        self.ear_area = _smoothstep(
            self.base.surface.ear_offset(
                self.base.directions, np.linalg.norm(p - self.base.surface.centre, axis=1)
            ),
            0.5,
            4.0,
        )
        # Wrinkle lines (age): forehead, crow's feet, nasolabial folds.
        lines = np.zeros(len(p))
        for k, height in enumerate((14.0, 22.0, 30.0)):
            line_y = fp[107, 1] + height + 2.0 * np.cos(p[:, 0] / 12.0 + k)
            lines += np.exp(-0.5 * ((y - line_y) / 0.8) ** 2) * (1 - _smoothstep(np.abs(p[:, 0]), 25.0, 40.0))
        lines *= in_front
        for s in (-1, 1):
            for angle in (-0.35, 0.0, 0.35):
                start = np.array([s * 47.0, fp[33, 1]])
                end = start + np.array([s * 10.0 * np.cos(angle), 10.0 * np.sin(angle)])
                d, _ = _segment_distance(xy, np.stack([start, end]))
                lines += 0.7 * np.exp(-0.5 * (d / 0.7) ** 2) * in_front
            d, _ = _segment_distance(
                xy,
                np.array(
                    [[s * 20.0, fp[64, 1] - 1.0], [s * 31.0, fp[61, 1] + 2.0], [s * 34.0, fp[61, 1] - 8.0]]
                ),
            )
            lines += np.exp(-0.5 * (d / 1.2) ** 2) * in_front * (self.lips_sdf > 1.5)
        self.wrinkles = np.clip(lines, 0, 1)

    # Identities -----------------------------------------------------------

    def shape_coefficients(self, traits: dict[str, float], rng: np.random.Generator) -> np.ndarray:
        """One identity's shape-field coefficients: trait effects plus its own variation."""
        male = traits["sex"]
        age_z = (traits["age"] - 45.0) / 17.0
        weight = traits["weight"]
        effects = {
            "head_size": 1.2 * male - 0.6,
            "head_breadth": 0.4 * traits["face_width"],
            "face_width": 0.8 * traits["face_width"] + 0.3 * weight,
            "face_length": 0.5 * male - 0.25,
            "jaw_width": 1.0 * male - 0.5 + 0.4 * traits["face_width"],
            "chin_projection": 0.5 * male - 0.25,
            "chin_height": 0.6 * male - 0.3,
            "chin_width": 0.6 * male - 0.3,
            "nose_length": 0.6 * traits["nose_size"] + 0.3 * age_z,
            "nose_width": 0.6 * traits["nose_size"] + 0.5 * traits["skin_tone"] - 0.2,
            "nose_projection": 0.6 * traits["nose_size"] - 0.4 * traits["skin_tone"] + 0.2,
            "eye_size": -0.4 * male + 0.2 - 0.3 * age_z,
            "brow_ridge": 1.4 * male - 0.7,
            "brow_height": -0.8 * male + 0.4,
            "lip_fullness": -0.6 * male + 0.3 - 0.5 * age_z + 0.6 * traits["skin_tone"] - 0.2,
            "forehead_slope": 0.8 * male - 0.4,
            "ears": 0.4 * age_z + 0.3 * male,
            "weight": 1.0 * weight,
            "sag": 0.9 * age_z + 0.3 * weight,
            "cheek_fullness": 0.5 * weight - 0.2 * age_z,
            "cheekbones": -0.2 * weight,
        }
        base = np.array([effects.get(name, 0.0) for name in self.field_names])
        own = rng.normal(0.0, 1.0, size=len(self.field_names))
        # Some fields are mostly explained by traits; they keep less individual variation.
        own_scale = np.array([0.6 if name in ("weight", "sag") else 1.0 for name in self.field_names])
        return np.concatenate([base + own_scale * own, rng.normal(0.0, 1.0, size=len(self.bumps))])

    def shape(self, coefficients: np.ndarray) -> np.ndarray:
        """`[V, 3]` vertices for shape-field coefficients (fields, then bumps)."""
        k = len(self.field_names)
        return (
            self.p
            + np.tensordot(coefficients[:k], self.fields, axes=1)
            + np.tensordot(coefficients[k:], self.bumps, axes=1)
        )

    def texture(self, traits: dict[str, float], rng: np.random.Generator) -> np.ndarray:
        """`[V, 3]` colours in [0, 1] of one identity."""
        male = traits["sex"]
        age01 = np.clip((traits["age"] - 18.0) / 62.0, 0.0, 1.0)
        tone = traits["skin_tone"]
        count = len(self.p)
        # Skin: tone, undertone, and regional colouring.
        skin = np.where(
            tone < 0.5,
            SKIN_LIGHT + (SKIN_MEDIUM - SKIN_LIGHT) * tone * 2,
            SKIN_MEDIUM + (SKIN_DARK - SKIN_MEDIUM) * (tone * 2 - 1),
        )
        skin = skin * (
            1.0 + np.array([0.03, -0.01, -0.03]) * rng.normal() + np.array([0.01, 0.01, -0.04]) * rng.normal()
        )
        skin = skin * (1.0 + 0.04 * rng.normal()) * (1.0 - 0.04 * male)
        colours = np.tile(skin, (count, 1))
        redness = np.array([0.06, -0.02, -0.02]) * (1.0 - 0.6 * tone)
        colours += (self.cheek_area * (0.8 + 0.5 * rng.normal()) * (1 - 0.4 * male))[:, None] * redness
        colours += (self.nose_area * (0.6 + 0.5 * rng.normal() + 0.5 * age01))[:, None] * redness
        colours += (self.ear_area * 0.8)[:, None] * redness
        colours *= 1.0 - (self.under_eye * (0.06 + 0.12 * age01 + 0.05 * rng.normal()))[:, None]
        colours *= 1.0 - (self.eyelid * (0.08 + 0.06 * rng.normal()))[:, None] * np.array([0.8, 1.0, 1.0])
        # Broad random pigmentation: lighter/darker and redder/yellower patches.
        for _ in range(6):
            idx = rng.integers(count)
            blob = _gauss(self.p, self.p[idx], rng.uniform(15.0, 45.0))
            tint = 0.05 * rng.normal() + np.array([0.03, -0.005, -0.02]) * rng.normal()
            colours *= 1.0 + blob[:, None] * tint
        # Hair colour (brows, stubble), greying with age.
        darkness = traits["hair_darkness"]
        ladder = np.interp(darkness, [0.0, 0.3, 0.6, 0.85, 1.0], [3, 2.6, 2.0, 1.0, 0.0])
        lo = int(np.floor(ladder))
        hair = HAIR_COLOURS[lo] + (HAIR_COLOURS[min(lo + 1, 4)] - HAIR_COLOURS[lo]) * (ladder - lo)
        if rng.uniform() < 0.04 * (1 - tone) and darkness < 0.7:
            hair = HAIR_COLOURS[4]
        grey = np.clip((traits["age"] - 40.0) / 40.0 + 0.15 * rng.normal(), 0.0, 0.8)
        hair = hair * (1 - grey) + np.array([0.62, 0.6, 0.58]) * grey
        # Wrinkles and age.
        colours *= 1.0 - (self.wrinkles * np.clip(age01 - 0.3, 0, 1) * (0.18 + 0.06 * rng.normal()))[:, None]
        # Lips.
        lip = skin * np.array([0.86, 0.58, 0.60]) * (1.0 + 0.08 * rng.normal()) * (1 - 0.12 * age01)
        lip = lip + np.array([0.04, -0.01, 0.0]) * (1 - male) * (1 - tone)
        lip_alpha = 1.0 - _smoothstep(self.lips_sdf, -0.8, 0.6)
        colours = _mix(colours, lip, lip_alpha * 0.95)
        colours = _mix(
            colours, skin * np.array([0.35, 0.2, 0.2]), np.exp(-0.5 * (self.mouth_line_distance / 0.55) ** 2)
        )
        # Nostrils.
        colours = _mix(colours, skin * 0.18, np.clip(1.6 * self.nostril, 0, 1))
        # Stubble / beard (men).
        stubble = traits["stubble"]
        if stubble > 0:
            style = rng.uniform()
            density = stubble * (0.55 + 0.35 * rng.uniform())
            area = self.beard * (style < 0.75) + self.goatee + self.moustache
            area = np.clip(area * (self.lip_clear + 0.0), 0, 1) * (1.0 - np.clip(1.6 * self.nostril, 0, 1))
            colours = _mix(colours, hair * 0.85 + skin * 0.15, np.clip(area * density, 0, 0.9))
        # Brows: a band along the brow line, thicker or thinner per identity. Their
        # position and arch vary through the shape (brow_lift, brow_arch), which
        # keeps the painted band in place for the texture PCA.
        thickness = np.clip(1.0 + 0.25 * traits["brow_thickness"] + 0.1 * rng.normal(), 0.45, 1.8)
        brow_alpha = np.zeros(count)
        for distance, fraction in self.brow_distances:
            half = np.interp(fraction, [0.0, 0.3, 1.0], [3.0, 3.0, 1.2]) * thickness
            alpha = 1.0 - _smoothstep(distance, half - 0.8, half + 0.6)
            alpha *= _smoothstep(fraction, 0.0, 0.06) + (fraction > 0.06)
            brow_alpha = np.maximum(brow_alpha, alpha * self.in_front)
        density = np.clip(0.75 + 0.15 * traits["brow_thickness"] + 0.1 * rng.normal(), 0.35, 0.95)
        colours = _mix(colours, hair, brow_alpha * density)
        # Eyes: sclera, iris, pupil, lashes.
        eye_alpha = 1.0 - _smoothstep(self.eye_sdf, -0.5, 0.3)
        sclera = np.array([0.84, 0.80, 0.76]) * (1.0 + 0.03 * rng.normal())
        iris_probability = np.array(
            [0.35 + 0.6 * tone, 0.25, 0.12 * (1 - tone), 0.22 * (1 - tone), 0.06 * (1 - tone)]
        )
        iris = IRIS_COLOURS[rng.choice(5, p=iris_probability / iris_probability.sum())] * (
            1 + 0.1 * rng.normal()
        )
        eye = np.tile(sclera, (count, 1))
        eye = _mix(eye, iris, 1.0 - _smoothstep(self.iris_distance, 5.2, 6.0))
        eye = _mix(eye, iris * 0.4, np.exp(-0.5 * ((self.iris_distance - 5.6) / 0.4) ** 2) * 0.6)
        eye = _mix(eye, np.array([0.02, 0.02, 0.02]), 1.0 - _smoothstep(self.iris_distance, 1.8, 2.4))
        colours = _mix(colours, eye, eye_alpha)
        lash = np.array([0.05, 0.04, 0.035])
        lash_strength = np.clip(0.85 + 0.1 * (1 - male) + 0.05 * rng.normal(), 0, 1)
        upper = np.exp(-0.5 * (self.upper_lid_distance / 0.9) ** 2) * lash_strength
        lower = (
            np.exp(-0.5 * (np.maximum(self.eye_sdf, 0) / 0.5) ** 2)
            * (self.eye_sdf > -0.3)
            * (~self.above_eye)
            * 0.35
        )
        colours = _mix(colours, lash, np.clip(np.maximum(upper, lower) * self.in_front, 0, 1))
        return np.clip(colours, 0.0, 1.0)
