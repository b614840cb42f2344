"""Checks that tensorflow-graphics' CPU rasteriser op loads, with one clear error if not."""

from __future__ import annotations

import functools

from headsynth.errors import RasterizerUnavailable

FIX = (
    "Run `make setup` (or `python scripts/build_rasterizer.py`), which compiles the op from the "
    "C++ sources tensorflow-graphics ships, with g++ against the installed TensorFlow."
)


@functools.lru_cache(maxsize=1)
def require_rasterizer() -> None:
    """Imports tfg's CPU rasterisation backend.

    Raises:
        RasterizerUnavailable: if the compiled op is missing or fails to load.
    """
    try:
        from tensorflow_graphics.rendering.kernels import rasterization_backend  # noqa: F401
    except Exception as error:  # tf raises NotFoundError, ImportError or OSError
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise RasterizerUnavailable(
            f"tensorflow-graphics' CPU rasteriser op does not load ({first_line}).", FIX
        ) from None
