"""Numbers for files and tables: NaN becomes JSON null, and "n/a" in text."""

from __future__ import annotations

import math

import numpy as np


def json_ready(value):
    """A copy of nested dicts/lists with numpy scalars as Python numbers and NaN/inf as None."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def fmt(value, digits: int = 3) -> str:
    """`value` with `digits` decimals, or "n/a" for None and NaN."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}"
