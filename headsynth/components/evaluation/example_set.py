"""The rendered examples an evaluation runs on: parsing a split, picking examples, the face model.

Shared by `evaluate.py` and `identity_eval.py` (and the studies), so neither
of those has to import the other.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from headsynth.components.rendering.shard_plan import read_examples
from headsynth.data_schemas import features
from headsynth.data_schemas.render_summary import rendered_scale
from headsynth.morphable.model import MorphableModel, load_npz

# The paper's parameter scale, for examples rendered without a render.json.
DEFAULT_SCALE = 1.6


@dataclass
class ExampleSet:
    """The parsed examples of one split.

    Attributes:
        records: serialized tf.Examples.
        images: encoded image bytes.
        q: `[N, m]` true unscaled parameters.
        yaw: `[N]` yaw in degrees.
        index: `[N]` example indices.
        scenario: the split's scenario.
        masks: encoded PNG head masks, or None when the examples were rendered without them.
    """

    records: list[bytes]
    images: list[bytes]
    q: np.ndarray
    yaw: np.ndarray
    index: np.ndarray
    scenario: str
    masks: list[bytes] | None = None


def load_example_set(examples_dir: str, split: str = "eval", limit: int | None = None) -> ExampleSet:
    """Reads and parses a split of rendered examples.

    Raises:
        ValueError: if the split holds no examples.
    """
    records = read_examples(examples_dir, split, limit)
    if not records:
        raise ValueError(f"No examples in split {split!r} of {examples_dir}.")
    parsed = [tf.train.Example.FromString(r).features.feature for r in records]
    return ExampleSet(
        records=records,
        images=[f[features.IMAGE].bytes_list.value[0] for f in parsed],
        q=np.array([list(f[features.PARAMETERS].float_list.value) for f in parsed], np.float32),
        yaw=np.array([f["yaw_deg"].float_list.value[0] for f in parsed], np.float32),
        index=np.array([f[features.INDEX].int64_list.value[0] for f in parsed], np.int64),
        scenario=parsed[0][features.SCENARIO].bytes_list.value[0].decode(),
        masks=[f[features.MASK].bytes_list.value[0] for f in parsed] if features.MASK in parsed[0] else None,
    )


def rendered_face_model_and_scale(examples_dir: str) -> tuple[MorphableModel | None, float]:
    """(the face model the examples were rendered from or None, their parameter scale)."""
    model_path = os.path.join(examples_dir, "face_model.npz")
    model = load_npz(model_path) if tf.io.gfile.exists(model_path) else None
    scale = rendered_scale(examples_dir)
    return model, DEFAULT_SCALE if scale is None else scale


def pick_examples(count: int, total: int) -> np.ndarray:
    """`count` example positions spread evenly over `total` (deterministic)."""
    count = max(0, min(count, total))
    return np.unique(np.linspace(0, total - 1, count).round().astype(int)) if count else np.zeros(0, int)
