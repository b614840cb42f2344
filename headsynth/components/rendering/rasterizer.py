"""Loads the renderer's compiled ops (tfg's CPU rasteriser and headsynth's own), with one clear error if not."""

from __future__ import annotations

import functools
import os

import tensorflow as tf

from headsynth.core.errors import RasterizerUnavailable

FIX = (
    "Run `make setup` (or `python scripts/build_rasterizer.py`), which compiles the ops with g++ "
    "against the installed TensorFlow (tfg's from the C++ sources tensorflow-graphics ships)."
)
RENDER_OPS = os.path.join(os.path.dirname(__file__), "kernels", "render_ops.so")


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@functools.lru_cache(maxsize=1)
def require_rasterizer() -> None:
    """Imports tfg's CPU rasterisation backend and loads headsynth's render ops.

    Raises:
        RasterizerUnavailable: if a compiled op is missing or fails to load.
    """
    try:  # imported here, not at the top, so that a missing op becomes RasterizerUnavailable
        from tensorflow_graphics.rendering.kernels import rasterization_backend  # noqa: F401
    except Exception as error:  # tf raises NotFoundError, ImportError or OSError
        raise RasterizerUnavailable(
            f"tensorflow-graphics' CPU rasteriser op does not load ({_first_line(error)}).", FIX
        ) from None
    render_ops()


@functools.lru_cache(maxsize=1)
def render_ops():
    """The loaded library of `kernels/render_ops.cc`.

    Its ops: `vertex_normals_and_front_faces` (before rasterisation) and
    `rasterize_and_composite` (tfg's rasteriser function, then the pixel stage).

    Raises:
        RasterizerUnavailable: if it was not built or fails to load.
    """
    if not os.path.exists(RENDER_OPS):
        raise RasterizerUnavailable(f"headsynth's render ops {RENDER_OPS} have not been built.", FIX)
    try:
        return tf.load_op_library(RENDER_OPS)
    except Exception as error:
        raise RasterizerUnavailable(
            f"headsynth's render ops {RENDER_OPS} do not load ({_first_line(error)}).", FIX
        ) from None
