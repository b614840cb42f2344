"""Geometry of the built-in head: real faces from photographs on a generated skull.

Steps (all deterministic, a few seconds):

1. `photo_face_points`: mediapipe 0.10.21's shipped face-mesh model (the
   `.tflite` inside the wheel, offline) finds the 478-point face mesh (468
   surface points + 10 iris points) of the real faces in two public-domain
   portraits that installed packages ship (`PHOTOGRAPHS`).
2. `frontal_face`: the points are turned to face +z exactly (the symmetry
   plane of the mesh's left/right point pairs is found and made x = 0), made
   exactly symmetric by averaging with their mirror image, and scaled to a
   63 mm interpupillary distance (millimetres, +y up).
3. `neutral_face`: smiles are undone: parted lips closed (lower face raised,
   the chin by half), mouth corners lowered, squinting lids opened; each as
   displacements prescribed at a few points and spread harmonically over
   mediapipe's tessellation. The lip-closing and smile displacements are kept
   for the expression basis.
4. `HeadSurface`: mediapipe's tessellation (its edge triangles; eyes and
   mouth closed by fans) is Loop-subdivided twice into a smooth face. The
   head is star-shaped around a centre inside the skull: along each
   direction its radius is where the ray meets the face (`ray_cast`), or
   else the surface of a skull made as the smooth union of a cranium (a
   superellipsoid narrowing to the forehead), a jaw (ellipsoid) and a neck
   (capped elliptic cylinder); ears are shaped bumps on it.
5. `BaseHead`: the surface is sampled on a subdivided icosahedron whose
   vertices are pulled towards the face (`warped_directions`) and then
   spread evenly over the face, denser at eyes, brows and lips
   (`_relax_face`). Between face and skull the radius difference fades out
   bi-harmonically over the mesh, so the join is smooth; the same operator
   carries any field on the face points (shape changes, expressions) onto
   the head (`BaseHead.transfer`). The result is a closed, watertight mesh.

Units are millimetres; +y is up, +x is the subject's left and the face looks
along +z. Triangles keep the icosphere's order, for which the renderer's
`vertex_normals(..., clockwise=True)` points out of the head.
"""

from __future__ import annotations

import functools

import numpy as np

# The 68 iBUG landmarks as mediapipe points (build.py reads geo.IBUG68_FROM_MEDIAPIPE): runtime
# knowledge, since the photo fitter reads a photo's landmarks with it, so its one copy is in the package.
from headsynth.morphable.landmarks import IBUG68_FROM_MEDIAPIPE  # noqa: F401

# mediapipe face-mesh indices (FACEMESH_* contours, put in loop order).
RIGHT_EYE = [33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7]
LEFT_EYE = [263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249]
RIGHT_BROW_UPPER = [70, 63, 105, 66, 107]
RIGHT_BROW_LOWER = [46, 53, 52, 65, 55]
LEFT_BROW_UPPER = [300, 293, 334, 296, 336]
LEFT_BROW_LOWER = [276, 283, 282, 295, 285]
LIPS_OUTER = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185]
LIPS_INNER = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191]
UPPER_INNER_LIP = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308]
LOWER_INNER_LIP = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308]
FACE_OVAL = [
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
]  # fmt: skip
RIGHT_IRIS, LEFT_IRIS = 468, 473
NOSE_TIP, CHIN, FOREHEAD, NASION, SUBNASALE = 1, 152, 10, 168, 2
MIDLINE = [1, 4, 5, 6, 168, 10, 152, 0, 17, 13, 14, 164, 2, 94, 19, 195, 197, 8, 9, 151]
RIGHT_ALA, LEFT_ALA = 64, 294  # nostril wings
INTERPUPILLARY_MM = 63.0


# 1. Photographs and their face meshes -----------------------------------------


PHOTOGRAPHS = ("astronaut", "grace_hopper")


def photograph(name: str) -> np.ndarray:
    """`[H, W, 3]` uint8 public-domain portrait shipped by an installed package.

    astronaut: Eileen Collins (NASA), `skimage.data.astronaut()`; grace_hopper:
    Grace Hopper (U.S. Navy), matplotlib's `sample_data/grace_hopper.jpg`.
    """
    if name == "astronaut":
        import skimage.data

        return skimage.data.astronaut()
    if name == "grace_hopper":
        import matplotlib.cbook
        from PIL import Image

        with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")) as image:
            return np.asarray(image.convert("RGB"))
    raise ValueError(f"Unknown photograph {name!r}; choose one of {PHOTOGRAPHS}.")


@functools.cache
def photo_face_points(name: str = "astronaut") -> np.ndarray:
    """`[478, 3]` face-mesh points of a photograph, in pixels (x right, y down, z away).

    mediapipe's z has the scale of x. Values are rounded to 1/1000 pixel so
    that tiny float differences between CPUs do not change the build.
    """
    from mediapipe.python.solutions import face_mesh

    image = photograph(name)
    with face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True) as mesh:
        result = mesh.process(image)
    if not result.multi_face_landmarks:
        raise RuntimeError(f"mediapipe found no face in the {name} photograph.")
    height, width = image.shape[:2]
    points = np.array(
        [[p.x * width, p.y * height, p.z * width] for p in result.multi_face_landmarks[0].landmark]
    )
    return np.round(points, 3)


# 2. Frontal, symmetric, metric ------------------------------------------------


def mirror_pairs(points: np.ndarray) -> np.ndarray:
    """Index of each point's mirror partner (an involution) on a roughly frontal, centred mesh."""
    from scipy.optimize import linear_sum_assignment

    mirrored = points * np.array([-1.0, 1.0, 1.0])
    cost = np.linalg.norm(points[:, None] - mirrored[None], axis=-1)
    _, partner = linear_sum_assignment(cost)
    partner = np.asarray(partner)
    # Make it a true involution (the assignment is one already on a symmetric mesh).
    bad = partner[partner] != np.arange(len(points))
    partner[bad] = np.arange(len(points))[bad]
    return partner


def _rough_frame(points: np.ndarray) -> np.ndarray:
    """Rotation rows (x, y, z) from eye corners, mouth corners and forehead/chin."""
    x_axis = (points[263] - points[33]) + (points[362] - points[133]) + (points[291] - points[61])
    x_axis /= np.linalg.norm(x_axis)
    y_axis = points[FOREHEAD] - points[CHIN]
    y_axis -= x_axis * (y_axis @ x_axis)
    y_axis /= np.linalg.norm(y_axis)
    return np.stack([x_axis, y_axis, np.cross(x_axis, y_axis)])


def _half_rotation(rotation: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(Rotation.from_matrix(rotation).as_rotvec() / 2.0).as_matrix()


def frontal_face(raw: np.ndarray) -> np.ndarray:
    """`[478, 3]` frontal, exactly mirror-symmetric face points in mm (x left, y up, z forward).

    The origin is the centroid of the midline points.
    """
    points = raw * np.array([1.0, -1.0, -1.0])  # y up, z towards the camera
    points = (points - points[MIDLINE].mean(axis=0)) @ _rough_frame(points).T
    partner = mirror_pairs(points)
    flip = np.array([-1.0, 1.0, 1.0])
    for _ in range(4):
        # The rotation taking the mirror image onto the points is twice the
        # remaining misalignment of the symmetry plane: undo half of it.
        centred = points - points.mean(axis=0)
        target = (centred * flip)[partner]
        u, _, vt = np.linalg.svd(target.T @ centred)
        d = np.sign(np.linalg.det(u @ vt))
        rotation = u @ np.diag([1.0, 1.0, d]) @ vt  # maps centred -> target
        points = centred @ _half_rotation(rotation).T
        points[:, 0] -= points[MIDLINE, 0].mean()
    points = 0.5 * (points + (points * flip)[partner])
    points -= points[MIDLINE].mean(axis=0)
    return points * (INTERPUPILLARY_MM / np.linalg.norm(points[LEFT_IRIS] - points[RIGHT_IRIS]))


# 3. mediapipe's tessellation --------------------------------------------------


SPURIOUS_TRIANGLES = {(49, 64, 129), (279, 294, 358)}  # 3-cycles of the edge list that are no faces


def face_mesh_edges() -> np.ndarray:
    """`[E, 2]` edges of mediapipe's face-mesh tessellation (468 points)."""
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    return np.array(sorted({tuple(sorted(edge)) for edge in FACEMESH_TESSELATION}), dtype=np.int64)


def face_mesh_triangles(points: np.ndarray) -> np.ndarray:
    """`[T, 3]` triangles of mediapipe's 468-point face mesh, with eyes and mouth closed.

    mediapipe publishes the tessellation as edges; its faces are the edge
    triangles (less two 3-cycles that are no faces). The eye openings are
    closed by fans to the iris centres (points 468 and 473) and the mouth by
    a fan to point 478, appended by `with_mouth_centre`. Every triangle faces +z.
    """
    edges = face_mesh_edges()
    neighbours: dict[int, set[int]] = {}
    for a, b in edges:
        neighbours.setdefault(int(a), set()).add(int(b))
        neighbours.setdefault(int(b), set()).add(int(a))
    triangles = set()
    for a, b in edges:
        for c in neighbours[int(a)] & neighbours[int(b)]:
            triangles.add(tuple(sorted((int(a), int(b), int(c)))))
    triangles -= SPURIOUS_TRIANGLES
    fans = []
    for loop, centre in ((RIGHT_EYE, RIGHT_IRIS), (LEFT_EYE, LEFT_IRIS), (LIPS_INNER, 478)):
        fans += [(loop[i], loop[(i + 1) % len(loop)], centre) for i in range(len(loop))]
    result = np.array(sorted(triangles) + fans, dtype=np.int64)
    normal = np.cross(
        points[result[:, 1]] - points[result[:, 0]], points[result[:, 2]] - points[result[:, 0]]
    )
    return np.where((normal[:, 2] > 0)[:, None], result, result[:, ::-1])


def with_mouth_centre(points: np.ndarray) -> np.ndarray:
    """Appends point 478, the centre of the inner lip contour."""
    return np.concatenate([points[:478], points[LIPS_INNER].mean(axis=0, keepdims=True)])


def face_field(values: np.ndarray) -> np.ndarray:
    """A `[478, 3]` displacement of the frontal face points as `HeadSurface` uses it.

    Depth is scaled by DEPTH_SCALE and the mouth centre (point 478) appended, so
    the result can go to `BaseHead.transfer`.
    """
    return with_mouth_centre(np.asarray(values)[:478]) * np.array([1.0, 1.0, DEPTH_SCALE])


def loop_subdivide(vertices: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One step of Loop subdivision (with the boundary rules for open meshes).

    `vertices` may be any `[N, C]` per-vertex field: the scheme is linear, so
    subdividing a displacement field gives the displacement of the subdivided mesh.
    """
    count, width = vertices.shape
    edges = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    opposite = np.concatenate([triangles[:, 2], triangles[:, 0], triangles[:, 1]])
    keys = np.sort(edges, axis=1)
    unique, inverse, uses = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    boundary = uses == 1
    # New edge points: 3/8 (ends) + 1/8 (opposite corners); boundary edges: midpoints.
    opposite_sum = np.zeros((len(unique), width))
    np.add.at(opposite_sum, inverse, vertices[opposite])
    ends = vertices[unique[:, 0]] + vertices[unique[:, 1]]
    edge_points = np.where(boundary[:, None], 0.5 * ends, 0.375 * ends + 0.125 * opposite_sum)
    # Old vertices: Loop's weights inside, 3/4 + 1/8 + 1/8 on the boundary.
    neighbour_sum = np.zeros((count, width))
    valence = np.zeros(count)
    np.add.at(neighbour_sum, unique[:, 0], vertices[unique[:, 1]])
    np.add.at(neighbour_sum, unique[:, 1], vertices[unique[:, 0]])
    np.add.at(valence, unique.ravel(), 1)
    beta = np.where(valence > 3, 3.0 / (8.0 * np.maximum(valence, 1)), 3.0 / 16.0)
    moved = vertices * (1 - valence * beta)[:, None] + beta[:, None] * neighbour_sum
    on_boundary = np.zeros(count, bool)
    on_boundary[unique[boundary].ravel()] = True
    boundary_sum = np.zeros((count, width))
    np.add.at(boundary_sum, unique[boundary, 0], vertices[unique[boundary, 1]])
    np.add.at(boundary_sum, unique[boundary, 1], vertices[unique[boundary, 0]])
    moved = np.where(on_boundary[:, None], 0.75 * vertices + 0.125 * boundary_sum, moved)
    ab, bc, ca = np.split(inverse + count, 3)
    a, b, c = triangles.T
    faces = np.concatenate(
        [np.stack(f, axis=1) for f in ((a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca))]
    )
    return np.concatenate([moved, edge_points]), faces


def harmonic_fill(count: int, edges: np.ndarray, fixed: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Values on a graph's vertices: `values` at `fixed`, harmonic (graph Laplacian) elsewhere."""
    import scipy.sparse
    import scipy.sparse.linalg

    rows = np.concatenate([edges[:, 0], edges[:, 1]])
    cols = np.concatenate([edges[:, 1], edges[:, 0]])
    adjacency = scipy.sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(count, count))
    laplacian = scipy.sparse.diags(np.asarray(adjacency.sum(axis=1)).ravel()) - adjacency
    free = np.setdiff1d(np.arange(count), fixed)
    values = np.asarray(values, dtype=np.float64).reshape(len(fixed), -1)
    result = np.zeros((count, values.shape[1]))
    result[fixed] = values
    lhs = laplacian[free][:, free].tocsc()
    rhs = -laplacian[free][:, fixed] @ values
    result[free] = scipy.sparse.linalg.spsolve(lhs, rhs).reshape(len(free), -1)
    return result


# 4. A neutral expression ------------------------------------------------------


def _smoothstep(value, edge0, edge1):
    t = np.clip((np.asarray(value, dtype=np.float64) - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _contour_y(points: np.ndarray, contour: list[int], x: np.ndarray) -> np.ndarray:
    xy = points[contour, :2]
    order = np.argsort(xy[:, 0])
    return np.interp(x, xy[order, 0], xy[order, 1])


def neutral_face(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closes the photograph's parted lips and lowers its smiling mouth corners.

    Both changes are displacements prescribed at a few points (lower inner lip
    up to the upper one, chin up by half the lip gap, mouth corners down and
    in; the upper face and the face outline fixed) and spread harmonically
    over mediapipe's tessellation.

    Returns:
        (neutral points, jaw displacement, smile displacement), each `[N, 3]`;
        neutral + jaw re-opens the mouth and neutral + smile smiles.
    """
    count = 468
    edges = face_mesh_edges()
    y = points[:, 1]
    corner_y = points[291, 1]
    upper_lip = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, *UPPER_INNER_LIP]
    above = np.flatnonzero(y[:count] > corner_y + 4.0)
    outline = np.array([i for i in FACE_OVAL if y[i] > corner_y - 8.0])
    fixed_top = np.unique(np.concatenate([above, upper_lip, outline]))
    lower_inner = np.array([i for i in LOWER_INNER_LIP if i not in (78, 308)])
    gap = _contour_y(points, UPPER_INNER_LIP, points[lower_inner, 0]) - y[lower_inner]
    centre_gap = points[13, 1] - points[14, 1]
    jaw_line = np.array([i for i in FACE_OVAL if y[i] <= corner_y - 8.0])
    jaw_lift = 0.5 * centre_gap * (1.0 - _smoothstep(np.abs(points[jaw_line, 0]), 30.0, 62.0))
    fixed = np.concatenate([fixed_top, lower_inner, jaw_line])
    lift = np.concatenate([np.zeros(len(fixed_top)), np.clip(gap, 0.0, None), jaw_lift])
    close = np.zeros_like(points)
    close[:count, 1] = harmonic_fill(count, edges, fixed, lift)[:, 0]
    close[:count, 2] = 0.1 * close[:count, 1]
    # Smile: corners raised and pulled out; lower them and bring them in.
    corners = [61, 78, 291, 308]
    still = np.unique(np.concatenate([[0, 13, 14, 17, 37, 267, 84, 314], FACE_OVAL, RIGHT_EYE, LEFT_EYE]))
    side = np.sign(points[corners, 0])[:, None]
    corner_move = np.concatenate([-2.0 * side, np.full((4, 1), -3.0), np.zeros((4, 1))], axis=1)
    smile = np.zeros_like(points)
    smile[:count] = -harmonic_fill(
        count,
        edges,
        np.concatenate([corners, still]),
        np.concatenate([corner_move, np.zeros((len(still), 3))]),
    )
    neutral = points + close - smile + _open_eyes(points, edges)
    return neutral, -close, smile


def _open_eyes(points: np.ndarray, edges: np.ndarray, upper: float = 1.6, lower: float = 0.7) -> np.ndarray:
    """Displacement that undoes a smile's squint: lids apart, corners and brows in place."""
    count = 468
    field = np.zeros_like(points)
    for eye, iris in ((RIGHT_EYE, RIGHT_IRIS), (LEFT_EYE, LEFT_IRIS)):
        upper_lid, lower_lid = eye[1:8], eye[9:16]
        # Largest in the middle of each lid, nothing at the corners.
        profile = np.sin(np.linspace(0.0, np.pi, 9)[1:-1])
        far = np.flatnonzero(np.linalg.norm(points[:count] - points[iris], axis=1) > 16.0)
        fixed = np.concatenate([upper_lid, lower_lid, [eye[0], eye[8]], far])
        values = np.zeros((len(fixed), 3))
        values[:7, 1] = upper * profile
        values[7:14, 1] = -lower * profile
        field[:count] += harmonic_fill(count, edges, fixed, values)
    return field


# 5. The head surface ----------------------------------------------------------


DEPTH_SCALE = 1.1  # mediapipe's depth is a little flat for a real face


def chart(directions: np.ndarray) -> np.ndarray:
    """`[..., 2]` (longitude, latitude) in radians of unit `[..., 3]` directions (front = +z)."""
    return np.stack(
        [np.arctan2(directions[..., 0], directions[..., 2]), np.arcsin(np.clip(directions[..., 1], -1, 1))],
        axis=-1,
    )


def ray_cast(origin: np.ndarray, directions: np.ndarray, vertices: np.ndarray, triangles: np.ndarray):
    """Farthest hit of rays from `origin` along unit `directions` with a triangle mesh.

    Returns:
        (distance `[R]`, triangle index `[R]`, barycentric weights `[R, 3]`), with
        distance NaN and index -1 for misses.
    """
    corners = vertices[triangles] - origin  # [T, 3, 3]
    # Candidate pairs from a grid over (longitude, latitude) of the rays.
    cell = 0.02
    corner_chart = chart(corners / np.linalg.norm(corners, axis=-1, keepdims=True))
    low = np.floor(corner_chart.min(axis=1) / cell).astype(np.int64) - 1
    high = np.floor(corner_chart.max(axis=1) / cell).astype(np.int64) + 1
    ray_cell = np.floor(chart(directions) / cell).astype(np.int64)
    offset, width = -200, 400
    ray_key = (ray_cell[:, 0] - offset) * width + (ray_cell[:, 1] - offset)
    tri_ids, tri_keys = [], []
    span = high - low + 1
    for di in range(int(span[:, 0].max())):
        for dj in range(int(span[:, 1].max())):
            ok = (di < span[:, 0]) & (dj < span[:, 1])
            tri_ids.append(np.flatnonzero(ok))
            tri_keys.append((low[ok, 0] + di - offset) * width + (low[ok, 1] + dj - offset))
    tri_ids, tri_keys = np.concatenate(tri_ids), np.concatenate(tri_keys)
    order = np.argsort(tri_keys, kind="stable")
    tri_ids, tri_keys = tri_ids[order], tri_keys[order]
    start = np.searchsorted(tri_keys, ray_key, side="left")
    stop = np.searchsorted(tri_keys, ray_key, side="right")
    counts = stop - start
    rays = np.repeat(np.arange(len(directions)), counts)
    firsts = np.repeat(start - np.cumsum(counts) + counts, counts)
    tris = tri_ids[np.arange(len(rays)) + firsts]
    # Moller-Trumbore on the pairs.
    v0, v1, v2 = corners[tris, 0], corners[tris, 1], corners[tris, 2]
    d = directions[rays]
    e1, e2 = v1 - v0, v2 - v0
    p = np.cross(d, e2)
    det = np.sum(e1 * p, axis=1)
    safe = np.where(np.abs(det) < 1e-12, 1e-12, det)
    s = -v0
    u = np.sum(s * p, axis=1) / safe
    q = np.cross(s, e1)
    v = np.sum(d * q, axis=1) / safe
    t = np.sum(e2 * q, axis=1) / safe
    eps = 1e-9
    hit = (np.abs(det) > 1e-12) & (u >= -eps) & (v >= -eps) & (u + v <= 1 + eps) & (t > 0)
    distance = np.full(len(directions), -np.inf)
    np.maximum.at(distance, rays[hit], t[hit])
    index = np.full(len(directions), -1)
    weights = np.zeros((len(directions), 3))
    best = hit & (t >= distance[rays])
    index[rays[best]] = tris[best]
    weights[rays[best]] = np.stack([1 - u[best] - v[best], u[best], v[best]], axis=1)
    distance[index < 0] = np.nan
    return distance, index, weights


def _ellipsoid_field(p, centre, axes):
    """Approximate signed distance (mm) to an ellipsoid: negative inside."""
    q = (p - centre) / axes
    return (np.linalg.norm(q, axis=-1) - 1.0) * np.min(axes)


def _smooth_min(a, b, k):
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b * (1 - h) + a * h - k * h * (1 - h)


class HeadSurface:
    """A closed star-shaped head: the face of `points` on a generated skull.

    Args:
        points: `[478, 3]` neutral frontal face points (mm).
    """

    def __init__(self, points: np.ndarray, subdivisions: int = 2) -> None:
        points = with_mouth_centre(points) * np.array([1.0, 1.0, DEPTH_SCALE])
        self.points = points
        chin_y, top_y = points[CHIN, 1], points[CHIN, 1] + 225.0
        front_z = points[NASION, 2]
        self.tragion = np.array([70.0, points[RIGHT_IRIS, 1] - 27.0, points[NOSE_TIP, 2] - 112.0])
        # The skull: cranium, jaw and neck, smoothly united.
        length, breadth = 188.0, 148.0
        self.cranium_centre = np.array([0.0, points[RIGHT_IRIS, 1] + 15.0, front_z - 4.0 - length / 2])
        self.cranium_axes = np.array([breadth / 2, top_y - self.cranium_centre[1], length / 2])
        self.jaw_centre = np.array([0.0, chin_y + 40.0, self.tragion[2] + 30.0])
        self.jaw_axes = np.array([56.0, 48.0, 66.0])
        self.neck_centre = np.array([0.0, 0.0, self.tragion[2] - 12.0])
        self.neck_axes = np.array([50.0, 54.0])
        self.neck_bottom = chin_y - 38.0
        # Rays start inside all three parts so the union is star-shaped around it.
        self.centre = np.array([0.0, points[291, 1] + 45.0, self.tragion[2] + 12.0])
        # The face: mediapipe's mesh, Loop-subdivided; its outermost ring of
        # triangles (which folds at the sides) is left to the blend.
        triangles = face_mesh_triangles(points)
        rim = np.isin(triangles, FACE_OVAL).any(axis=1)
        vertices = points
        for _ in range(subdivisions):
            vertices, triangles = loop_subdivide(vertices, triangles)
            rim = np.tile(rim, 4)
        self.face_vertices, self.face_triangles, self.face_rim = vertices, triangles, rim
        self.subdivisions = subdivisions

    def face_hits(self, directions: np.ndarray):
        """Where rays from `centre` meet the face (not its rim).

        Returns:
            (distance `[R]`, valid `[R]` bool, triangle `[R]`, barycentric weights `[R, 3]`).
        """
        distance, index, weights = ray_cast(self.centre, directions, self.face_vertices, self.face_triangles)
        valid = (index >= 0) & ~self.face_rim[np.maximum(index, 0)]
        return np.where(valid, distance, 0.0), valid, np.maximum(index, 0), weights

    def subdivide_field(self, field: np.ndarray) -> np.ndarray:
        """A `[479, C]` field on the face points, on the subdivided face mesh's vertices."""
        triangles = face_mesh_triangles(self.points)
        for _ in range(self.subdivisions):
            field, triangles = loop_subdivide(field, triangles)
        return field

    def skull_field(self, p: np.ndarray) -> np.ndarray:
        """Approximate signed distance of the skull (negative inside)."""
        rel_z = (p[..., 2] - self.cranium_centre[2]) / self.cranium_axes[2]
        taper = 1.0 - 0.07 * rel_z - 0.05 * rel_z**2  # narrower forehead
        q = p.copy()
        q[..., 0] = p[..., 0] / taper
        scaled = np.abs((q - self.cranium_centre) / self.cranium_axes)
        cranium = (np.sum(scaled**2.5, axis=-1) ** (1 / 2.5) - 1.0) * self.cranium_axes.min()
        jaw = _ellipsoid_field(p, self.jaw_centre, self.jaw_axes)
        flat = np.stack([p[..., 0], p[..., 2] - self.neck_centre[2]], axis=-1) / self.neck_axes
        neck_side = (np.linalg.norm(flat, axis=-1) - 1.0) * self.neck_axes.min()
        neck_bottom = self.neck_bottom - p[..., 1]
        neck = np.maximum(np.maximum(neck_side, neck_bottom), p[..., 1] - self.cranium_centre[1])
        # Round the neck's bottom edge a little.
        neck = np.where(
            (neck_side > -8) & (neck_bottom > -8),
            np.sqrt(np.maximum(neck_side + 8, 0) ** 2 + np.maximum(neck_bottom + 8, 0) ** 2) - 8,
            neck,
        )
        return _smooth_min(_smooth_min(cranium, jaw, 25.0), neck, 20.0)

    def skull_radius(self, directions: np.ndarray) -> np.ndarray:
        """Radius of the skull along unit directions from `centre` (bisection)."""
        low = np.zeros(len(directions))
        high = np.full(len(directions), 400.0)
        for _ in range(40):
            mid = 0.5 * (low + high)
            inside = self.skull_field(self.centre + directions * mid[:, None]) < 0
            low = np.where(inside, mid, low)
            high = np.where(inside, high, mid)
        return 0.5 * (low + high)

    def ear_offset(self, directions: np.ndarray, radius: np.ndarray) -> np.ndarray:
        """Radial offset (mm) that raises an ear on each side of the skull."""
        p = self.centre + directions * radius[:, None]
        offset = np.zeros(len(directions))
        for side in (-1.0, 1.0):
            # Ear-local coordinates: u up, v backwards; the ear sits just behind the tragion.
            u = (p[:, 1] - (self.tragion[1] + 8.0)) / 31.0
            v = (self.tragion[2] - 14.0 - p[:, 2]) / 17.0
            lateral = side * p[:, 0] > 0.6 * self.tragion[0]
            rho = np.sqrt(u**2 + v**2)
            rim = np.exp(-0.5 * ((rho - 0.75) / 0.18) ** 2)
            bowl = np.exp(-0.5 * (rho / 0.45) ** 2)
            lobe = np.exp(-0.5 * (((u + 0.8) / 0.2) ** 2 + (v / 0.35) ** 2))
            stand_off = 0.6 + 0.4 * np.clip(v, -1, 1)  # the back of the ear stands off the head
            height = (13.0 * rim + 6.0 * (1 - rim) * (rho < 0.75) - 2.0 * bowl) * stand_off + 6.0 * lobe
            offset += lateral * height * (1.0 - _smoothstep(rho, 0.85, 1.05)) * (rho < 1.1)
        return offset


# 6. The mesh ------------------------------------------------------------------


def icosphere(subdivisions: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit icosphere: `[V, 3]` vertices and `[T, 3]` triangles, counter-clockwise seen from outside."""
    t = (1.0 + 5.0**0.5) / 2.0
    vertices = [
        (-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0),
        (0, -1, t), (0, 1, t), (0, -1, -t), (0, 1, -t),
        (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1),
    ]  # fmt: skip
    faces = np.array([
        (0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11),
        (1, 5, 9), (5, 11, 4), (11, 10, 2), (10, 7, 6), (7, 1, 8),
        (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8), (3, 8, 9),
        (4, 9, 5), (2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1),
    ])  # fmt: skip
    verts = np.array(vertices, dtype=np.float64)
    verts /= np.linalg.norm(verts, axis=1, keepdims=True)
    for _ in range(subdivisions):
        edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
        unique, inverse = np.unique(edges, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        mids = verts[unique[:, 0]] + verts[unique[:, 1]]
        mids /= np.linalg.norm(mids, axis=1, keepdims=True)
        n = len(verts)
        ab, bc, ca = np.split(inverse + n, 3)
        a, b, c = faces.T
        faces = np.concatenate(
            [np.stack(f, axis=1) for f in ((a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca))]
        )
        verts = np.concatenate([verts, mids])
    return verts, faces.astype(np.int64)


def warped_directions(unit: np.ndarray, front: np.ndarray, strength: float) -> np.ndarray:
    """Pulls unit vectors towards `front`: the polar angle t becomes t - strength * sin(t)."""
    front = front / np.linalg.norm(front)
    cos_t = np.clip(unit @ front, -1.0, 1.0)
    theta = np.arccos(cos_t)
    tangent = unit - cos_t[:, None] * front
    norm = np.linalg.norm(tangent, axis=1, keepdims=True)
    tangent = np.where(norm > 1e-12, tangent / np.maximum(norm, 1e-12), 0.0)
    new_theta = theta - strength * np.sin(theta)
    return np.cos(new_theta)[:, None] * front + np.sin(new_theta)[:, None] * tangent


def mesh_laplacian(count: int, triangles: np.ndarray):
    """Uniform graph Laplacian (sparse, `[V, V]`) of a triangle mesh."""
    edges = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    edges = np.unique(np.sort(edges, axis=1), axis=0)
    import scipy.sparse

    rows = np.concatenate([edges[:, 0], edges[:, 1]])
    cols = np.concatenate([edges[:, 1], edges[:, 0]])
    adjacency = scipy.sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(count, count))
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    return scipy.sparse.diags(degree) - adjacency


class BaseHead:
    """The head surface sampled on a face-weighted icosphere, and field transfer onto it.

    Attributes:
        surface: the `HeadSurface`.
        vertices: `[V, 3]` mm, in the face points' frame.
        triangles: `[T, 3]`, in the icosphere's order, which tfg's
            `vertex_normals(..., clockwise=True)` turns into outward normals.
        in_face: `[V]` bool, True where the vertex lies on mediapipe's face.
        face_blend: `[V]` in [0, 1]: 1 on the face, fading to 0 on the skull.
    """

    def __init__(
        self, surface: HeadSurface, subdivisions: int = 5, density: float = 0.55, relax_steps: int = 30
    ) -> None:
        import scipy.sparse.linalg

        self.surface = surface
        unit, self.triangles = icosphere(subdivisions)
        face_centre = surface.points[[RIGHT_IRIS, LEFT_IRIS, 13, NOSE_TIP]].mean(axis=0)
        directions = warped_directions(unit, face_centre - surface.centre, density)
        directions = self._relax_face(surface, directions, relax_steps)
        skull = surface.skull_radius(directions)
        face, self.in_face, self._hit_triangle, self._hit_weights = surface.face_hits(directions)
        # Far from the face the skull stays as it is; in between, differences
        # between face and skull fade out as smoothly as possible (bi-Laplacian).
        face_dirs = surface.points[:468] - surface.centre
        face_dirs /= np.linalg.norm(face_dirs, axis=1, keepdims=True)
        far = np.max(directions @ face_dirs.T, axis=1) < np.cos(np.radians(28.0))
        self._known = self.in_face | far
        self._free = np.flatnonzero(~self._known)
        laplacian = mesh_laplacian(len(directions), self.triangles)
        bilaplacian = (laplacian.T @ laplacian).tocsr()
        self._coupling = bilaplacian[self._free][:, np.flatnonzero(self._known)]
        self._solver = scipy.sparse.linalg.splu(bilaplacian[self._free][:, self._free].tocsc())
        delta = self.extend(np.where(self.in_face, face - skull, 0.0)[:, None])[:, 0]
        radius = skull + delta
        radius += surface.ear_offset(directions, radius)
        self.directions = directions
        self.vertices = surface.centre + directions * radius[:, None]
        self.face_blend = np.clip(self.extend(self.in_face.astype(np.float64)[:, None])[:, 0], 0.0, 1.0)

    def _relax_face(self, surface: HeadSurface, directions: np.ndarray, steps: int) -> np.ndarray:
        """Spreads the face's vertices evenly over the face surface, denser at eyes, brows and lips.

        Rays from the centre meet some parts of the face at a grazing angle
        (above the eyes, under the nose), leaving few vertices there. Each step
        moves every face vertex towards the density-weighted mean of its
        neighbours in 3D and casts it back onto the face; vertices next to
        the skull stay put.
        """
        import scipy.sparse

        count = len(directions)
        edges = np.concatenate(
            [self.triangles[:, [0, 1]], self.triangles[:, [1, 2]], self.triangles[:, [2, 0]]]
        )
        adjacency = scipy.sparse.csr_matrix(
            (np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(count, count)
        )
        adjacency = ((adjacency + adjacency.T) > 0).astype(np.float64)
        radius, on_face, _, _ = surface.face_hits(directions)
        movable = on_face.copy()
        for _ in range(3):  # keep three rings next to the skull fixed
            movable &= np.asarray(adjacency @ (~movable).astype(np.float64)).ravel() == 0
        fp = surface.points
        features = np.array([fp[RIGHT_IRIS], fp[LEFT_IRIS], fp[105], fp[334], fp[13], fp[NOSE_TIP]])
        spread = np.array([14.0, 14.0, 12.0, 12.0, 14.0, 10.0])
        gain = np.array([3.0, 3.0, 2.0, 2.0, 2.5, 1.0])
        positions = surface.centre + directions * radius[:, None]
        rows = np.flatnonzero(movable)
        neighbours = adjacency[rows]  # movable vertices only have face vertices as neighbours
        for _ in range(steps):
            offsets = positions[:, None] - features[None]
            density = 1.0 + np.sum(gain * np.exp(-0.5 * np.sum(offsets**2, axis=-1) / spread**2), axis=1)
            target = (neighbours @ (density[:, None] * positions)) / (neighbours @ density)[:, None]
            moved = positions[rows] + 0.5 * (target - positions[rows])
            new_directions = moved - surface.centre
            new_directions /= np.linalg.norm(new_directions, axis=1, keepdims=True)
            new_radius, hit, _, _ = surface.face_hits(new_directions)
            directions[rows[hit]] = new_directions[hit]
            positions[rows[hit]] = surface.centre + new_directions[hit] * new_radius[hit, None]
        return directions

    def extend(self, values: np.ndarray) -> np.ndarray:
        """Keeps `[V, C]` values on the face and the far skull; fills the rest bi-harmonically."""
        values = np.array(values, dtype=np.float64)
        known = values[self._known]
        values[self._free] = self._solver.solve(-(self._coupling @ known))
        return values

    def transfer(self, field: np.ndarray) -> np.ndarray:
        """A `[479, C]` field on the face points -> `[V, C]` on the head, fading to 0 on the skull."""
        fine = self.surface.subdivide_field(np.asarray(field, dtype=np.float64))
        corners = fine[self.surface.face_triangles[self._hit_triangle]]  # [V, 3, C]
        on_face = np.einsum("vk,vkc->vc", self._hit_weights, corners)
        return self.extend(np.where(self.in_face[:, None], on_face, 0.0))
