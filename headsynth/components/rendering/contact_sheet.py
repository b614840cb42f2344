"""Contact sheets: a grid of the first rendered examples of a split (like the paper's Figures 1-4)."""

from __future__ import annotations

import os

import cv2
import numpy as np
import tensorflow as tf

from headsynth.components.rendering.shard_plan import read_examples
from headsynth.core.io_utils import atomic_path
from headsynth.data_schemas.features import IMAGE


def _decode_images(records: list[bytes]) -> list[np.ndarray]:
    """`[H, W, 3]` BGR images of serialized examples."""
    images = []
    for record in records:
        example = tf.train.Example.FromString(record)
        encoded = example.features.feature[IMAGE].bytes_list.value[0]
        images.append(cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR))
    return images


def write_contact_sheet(output_dir: str, split: str, scenario: str, rows: int = 4, cols: int = 8) -> str:
    """Writes `contact_sheet_<scenario>.png` of the first `rows * cols` examples of a split.

    Returns:
        The sheet's path, or "" if the split has no examples.
    """
    images = _decode_images(read_examples(output_dir, split, rows * cols))
    if not images:
        return ""
    images += [np.zeros_like(images[0])] * (rows * cols - len(images))
    grid = np.concatenate(
        [np.concatenate(images[r * cols : (r + 1) * cols], axis=1) for r in range(rows)], axis=0
    )
    path = os.path.join(output_dir, f"contact_sheet_{scenario}.png")
    with atomic_path(path) as tmp:
        _, data = cv2.imencode(".png", grid)
        with tf.io.gfile.GFile(tmp, "wb") as f:
            f.write(data.tobytes())
    return path


def write_contact_sheets(output_dir: str, scenarios: dict[str, str]) -> dict[str, str]:
    """One sheet per scenario, from the first split rendered with it.

    Args:
        scenarios: the scenario name of each split, e.g. {"train": "angle", "eval": "all"}.

    Returns:
        The sheet's path per scenario name.
    """
    sheets: dict[str, str] = {}
    for split, name in scenarios.items():
        if name not in sheets:
            sheets[name] = write_contact_sheet(output_dir, split, name)
    return sheets
