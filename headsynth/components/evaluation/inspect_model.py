"""Looking at a morphable model: a text summary, picture sheets and a mesh.

Behind the `headsynth model` command (`headsynth/cli/model_command.py`):

    headsynth model [--source builtin|PATH] [--shape-components K] [--texture-components K]
                    [--grid PNG] [--sweep PNG] [--export-mesh PATH] [--seed N] [--image-size PX]

The identity grid shows random heads q ~ N(0, I) of the model's own prior
(rendered with scale 1, so q is in units of sigma). The component sweep is the
thesis's Figures 3.3/3.4: one row per principal component, its value going
from -3 sigma to +3 sigma along the row, first the shape components (texture
at the mean), then the texture components (shape at the mean). Every view is
frontal, on the "none" scenario's gray background.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Sequence

import numpy as np
import tensorflow as tf
from matplotlib import font_manager
from PIL import Image, ImageDraw, ImageFont

from headsynth.components.rendering.renderer import HeadRenderer
from headsynth.components.rendering.scenarios import get_scenario
from headsynth.components.sampling.samplers import sample_parameters
from headsynth.core.io_utils import atomic_path
from headsynth.morphable.model import MorphableModel

RENDER_BATCH = 16  # one traced graph for every batch: short batches are padded
BACKGROUND = (255, 255, 255)
TEXT = (0, 0, 0)


# Text ------------------------------------------------------------------------


def summarize(model: MorphableModel) -> str:
    """A few lines on the model: sizes, sigmas, extent, colours and basis health."""
    mean_shape = model.shape.mean.reshape(-1, 3)
    extent = mean_shape.max(axis=0) - mean_shape.min(axis=0)
    mean_colour = model.texture.mean.reshape(-1, 3)
    lines = [
        model.summary(),
        f"  parameters: m = {model.num_parameters} ({model.shape.num_components} shape + "
        f"{model.texture.num_components} texture); p = scale * sigma * q",
        f"  mean shape extent: {extent[0]:.1f} x {extent[1]:.1f} x {extent[2]:.1f} (x, y, z; model units, mm)",
        f"  mean colour: min {mean_colour.min():.3f}, max {mean_colour.max():.3f}, "
        f"average RGB ({', '.join(f'{c:.3f}' for c in mean_colour.mean(axis=0))})",
    ]
    parts = [("shape", model.shape), ("texture", model.texture)]
    if model.expression is not None:
        parts.append(("expression", model.expression))
    for name, part in parts:
        # A loaded basis should be orthonormal; a large error means sigma is not in the basis' units.
        gram = part.basis.astype(np.float64).T @ part.basis.astype(np.float64)
        error = float(np.abs(gram - np.eye(part.num_components)).max()) if part.num_components else 0.0
        sigmas = ", ".join(f"{s:.3g}" for s in part.sigma[:8]) + (" ..." if part.num_components > 8 else "")
        lines.append(f"  {name} sigma: {sigmas}; basis orthonormal to {error:.1e}")
    return "\n".join(lines)


# Sheets ----------------------------------------------------------------------


def label_font_size(image_size: int) -> int:
    """Label font size in pixels for tiles of `image_size` pixels."""
    return int(np.clip(image_size // 8, 9, 16))


def label_margins(image_size: int) -> tuple[int, int]:
    """(left, top) label margins in pixels of a sheet with tiles of `image_size`.

    A sheet of R x C tiles is `top + R * image_size` pixels high and
    `left + C * image_size` wide.
    """
    font = label_font_size(image_size)
    return 6 * font + 6, 2 * font


def render_identity_grid(
    model: MorphableModel,
    path: str | os.PathLike,
    rows: int = 4,
    cols: int = 6,
    image_size: int = 128,
    seed: int = 0,
) -> np.ndarray:
    """Renders rows x cols random identities q ~ N(0, I) (frontal) into one PNG.

    Identity i (row-major) is the i-th vector of
    `sample_parameters("naive_normal", rows * cols, m, seed, {"std": 1.0})`, so
    identity 0 is the head `headsynth model --export-mesh ... --seed N` writes.

    Returns:
        The `[rows * cols, m]` parameter vectors shown.
    """
    if rows < 1 or cols < 1:
        raise ValueError(f"rows and cols must be positive. Received: {rows}, {cols}")
    q = sample_parameters("naive_normal", rows * cols, model.num_parameters, seed, {"std": 1.0})
    images = render_frontal(model, q, image_size)
    sheet = compose_sheet(
        images.reshape(rows, cols, image_size, image_size, 3),
        row_labels=[f"#{r * cols}" for r in range(rows)],
        col_labels=[str(c) for c in range(cols)],
        corner=f"seed {seed}",
    )
    write_png(sheet, path)
    return q


def render_component_sweep(
    model: MorphableModel,
    path: str | os.PathLike,
    components: int = 4,
    sigmas: Sequence[float] = (-3, -1.5, 0, 1.5, 3),
    image_size: int = 128,
) -> np.ndarray:
    """Renders each of the first components from -3 sigma to +3 sigma, shape then texture.

    Rows: shape components 1..k (texture at its mean), then texture components
    1..k (shape at its mean), with k = min(components, the part's size).
    Columns: the values in `sigmas`.

    Returns:
        The `[rows * len(sigmas), m]` parameter vectors shown (row-major).
    """
    if components < 1 or not sigmas:
        raise ValueError(f"Need components >= 1 and some sigmas. Received: {components}, {sigmas}")
    k_shape = min(components, model.shape.num_components)
    k_texture = min(components, model.texture.num_components)
    # Column index of each swept parameter in q: shape first, texture after it.
    swept = [i for i in range(k_shape)] + [model.shape.num_components + j for j in range(k_texture)]
    q = np.zeros([len(swept), len(sigmas), model.num_parameters], dtype=np.float32)
    for row, column in enumerate(swept):
        q[row, :, column] = sigmas
    q = q.reshape(-1, model.num_parameters)
    images = render_frontal(model, q, image_size)
    sheet = compose_sheet(
        images.reshape(len(swept), len(sigmas), image_size, image_size, 3),
        row_labels=[f"shape {i + 1}" for i in range(k_shape)]
        + [f"texture {j + 1}" for j in range(k_texture)],
        col_labels=[_sigma_label(s) for s in sigmas],
        corner="q / σ",
    )
    write_png(sheet, path)
    return q


def render_frontal(model: MorphableModel, q: np.ndarray, image_size: int) -> np.ndarray:
    """`[n, H, W, 3]` uint8 frontal renderings of `[n, m]` q in sigma units (scale 1)."""
    renderer = HeadRenderer(model, image_size, scale=1.0)
    scenario = get_scenario("none")
    factors = [dict(scenario.sample(0, "train", i), yaw_deg=0.0) for i in range(len(q))]
    batch = min(RENDER_BATCH, len(q))
    chunks = [
        renderer.render(q[start : start + batch], factors[start : start + batch], pad_to=batch).images
        for start in range(0, len(q), batch)
    ]
    return np.concatenate(chunks, axis=0)


def compose_sheet(
    tiles: np.ndarray, row_labels: Sequence[str], col_labels: Sequence[str], corner: str = ""
) -> np.ndarray:
    """Lays `[R, C, S, S, 3]` uint8 tiles out in a grid with row and column labels.

    Returns:
        `[top + R*S, left + C*S, 3]` uint8, with (left, top) = `label_margins(S)`.
    """
    rows, cols, size = tiles.shape[0], tiles.shape[1], tiles.shape[2]
    left, top = label_margins(size)
    sheet = np.full([top + rows * size, left + cols * size, 3], BACKGROUND, dtype=np.uint8)
    sheet[top:, left:] = tiles.transpose(0, 2, 1, 3, 4).reshape(rows * size, cols * size, 3)
    image = Image.fromarray(sheet)
    draw = ImageDraw.Draw(image)
    font = _font(label_font_size(size))
    for r, label in enumerate(row_labels):
        draw.text((4, top + r * size + size // 2), label, fill=TEXT, font=font, anchor="lm")
    for c, label in enumerate(col_labels):
        draw.text((left + c * size + size // 2, top // 2), label, fill=TEXT, font=font, anchor="mm")
    if corner:
        draw.text((4, top // 2), corner, fill=TEXT, font=font, anchor="lm")
    return np.asarray(image)


def write_png(image: np.ndarray, path: str | os.PathLike) -> None:
    """Writes a `[H, W, 3]` uint8 image as PNG, atomically."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    with atomic_path(path) as tmp:
        with tf.io.gfile.GFile(tmp, "wb") as f:
            f.write(buffer.getvalue())


@functools.lru_cache(maxsize=8)
def _font(size: int):
    # DejaVu Sans ships with matplotlib and has the σ and minus glyphs PIL's bitmap font lacks.
    return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)


def _sigma_label(value: float) -> str:
    if value == 0:
        return "0"
    text = f"{abs(value):g}σ"
    return ("+" if value > 0 else "−") + text
