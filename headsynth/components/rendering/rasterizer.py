"""Loads the renderer's compiled ops (tfg's CPU rasteriser and headsynth's pixel op), with one clear error if not."""

from __future__ import annotations

import functools
import os

from headsynth.errors import RasterizerUnavailable

FIX = (
    "Run `make setup` (or `python scripts/build_rasterizer.py`), which compiles the ops with g++ "
    "against the installed TensorFlow (tfg's from the C++ sources tensorflow-graphics ships)."
)
COMPOSITE_OP = os.path.join(os.path.dirname(__file__), "kernels", "composite_op.so")


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@functools.lru_cache(maxsize=1)
def require_rasterizer() -> None:
    """Imports tfg's CPU rasterisation backend and loads headsynth's pixel op.

    Raises:
        RasterizerUnavailable: if a compiled op is missing or fails to load.
    """
    try:
        from tensorflow_graphics.rendering.kernels import rasterization_backend  # noqa: F401
    except Exception as error:  # tf raises NotFoundError, ImportError or OSError
        raise RasterizerUnavailable(
            f"tensorflow-graphics' CPU rasteriser op does not load ({_first_line(error)}).", FIX
        ) from None
    composite_ops()


@functools.lru_cache(maxsize=1)
def composite_ops():
    """The loaded library of `composite_op.cc` (its op: `composite_rasterized_head`).

    Raises:
        RasterizerUnavailable: if it was not built or fails to load.
    """
    import tensorflow as tf

    if not os.path.exists(COMPOSITE_OP):
        raise RasterizerUnavailable(f"headsynth's pixel op {COMPOSITE_OP} has not been built.", FIX)
    try:
        return tf.load_op_library(COMPOSITE_OP)
    except Exception as error:
        raise RasterizerUnavailable(
            f"headsynth's pixel op {COMPOSITE_OP} does not load ({_first_line(error)}).", FIX
        ) from None
