"""Files the exported SavedModel carries beside its graph, in `assets.extra/` (TF Serving ignores them).

face_model.npz        the morphable model q belongs to (`training.export`)
input_framing.json    {"framing": "full" | "face"}: how the training images were framed, so a
                      client crops photos the same way (`components/rendering/framing.py`)
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from headsynth.core.io_utils import write_text_atomic

ASSETS_EXTRA = "assets.extra"
INPUT_FRAMING_FILE = "input_framing.json"


def write_input_framing(export_dir: str, framing: str) -> None:
    """Records how the training images were framed ("full" render or "face" crop)."""
    extra = os.path.join(export_dir, ASSETS_EXTRA)
    tf.io.gfile.makedirs(extra)
    write_text_atomic(os.path.join(extra, INPUT_FRAMING_FILE), json.dumps({"framing": framing}))


def read_input_framing(export_dir: str) -> str:
    """The framing of a SavedModel's training images ("full" when not recorded: models before framing)."""
    path = os.path.join(export_dir, ASSETS_EXTRA, INPUT_FRAMING_FILE)
    if not tf.io.gfile.exists(path):
        return "full"
    with tf.io.gfile.GFile(path) as f:
        return str(json.load(f).get("framing", "full"))
