"""Hyperparameter checks shared by the backbones, raising "... Received: name=value" errors."""

from __future__ import annotations

from collections.abc import Sequence


def _is_int(value: object) -> bool:
    """Whether `value` is an integer and not a boolean (`True` is an `int` in Python)."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_positive_ints(name: str, values: Sequence[int]) -> None:
    """Raises ValueError unless `values` is a non-empty list of positive integers."""
    if not values or any(not _is_int(v) or v <= 0 for v in values):
        raise ValueError(f"`{name}` must be a non-empty list of positive integers. Received: {name}={values}")


def check_positive_int(name: str, value: int) -> None:
    """Raises ValueError unless `value` is a positive integer."""
    if not _is_int(value) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value}")


def check_image_size(image_size: int, minimum: int) -> None:
    """Raises ValueError unless `image_size` is an integer >= `minimum`."""
    if not _is_int(image_size) or image_size < minimum:
        raise ValueError(f"`image_size` must be an integer >= {minimum}. Received: image_size={image_size}")
