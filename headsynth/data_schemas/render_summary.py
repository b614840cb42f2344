"""`render.json`: what the render job records beside its examples, read back by the steps after it."""

from __future__ import annotations

import os

import tensorflow as tf

from headsynth.core.io_utils import read_json

RENDER_SUMMARY = "render.json"


def read_render_summary(examples_dir: str) -> dict:
    """The render job's summary of the examples in `examples_dir` ({} if it recorded none).

    Keys: "job" (the job's settings), "counts", "shards", "contact_sheets".
    """
    path = os.path.join(examples_dir, RENDER_SUMMARY)
    return read_json(path) if tf.io.gfile.exists(path) else {}


def rendered_scale(examples_dir: str) -> float | None:
    """The parameter scale the examples were rendered with, if recorded."""
    scale = read_render_summary(examples_dir).get("job", {}).get("scale")
    return None if scale is None else float(scale)


def rendered_framing(examples_dir: str) -> str:
    """The framing of the examples ("full" or "face"; "full" if unrecorded)."""
    return str(read_render_summary(examples_dir).get("job", {}).get("framing", "full"))
