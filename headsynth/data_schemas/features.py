"""The rendered example: one tf.train.Example per image, and how to parse it.

Every example stores the encoded image, the unscaled parameters q, every scene
factor that produced it, the scenario name, the seed and the example index, so
any example can be re-rendered exactly. `schema.pbtxt` beside this file is the
TFX schema of the same features (checked against this module by a test).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

SCHEMA_FILE = Path(__file__).resolve().parent / "schema.pbtxt"

IMAGE = "image"
PARAMETERS = "q"
LANDMARKS = "landmarks_2d"
MASK = "mask"
DEPTH = "depth"
SH_LIGHT = "sh_light"
EXPRESSION = "expression"
OPTIONAL = (MASK, DEPTH, LANDMARKS, EXPRESSION)
SCENARIO = "scenario"
SEED = "seed"
INDEX = "index"
# The scene factors every example stores (the scenarios sample exactly these).
# Their order fixes the order of draws of every example: never reorder, only append.
FACTOR_NAMES = (
    "yaw_deg",
    "pitch_deg",
    "roll_deg",
    "focal_mm",
    "distance_mm",
    "shift_x",
    "shift_y",
    "light_azimuth_deg",
    "light_elevation_deg",
    "light_intensity",
    "light_r",
    "light_g",
    "light_b",
    "ambient",
    "background",
    "bg_scale",
    "bg_x",
    "bg_y",
    "bg_pick",
    "scalp_hair",
    "facial_hair",
    "hair_tone",
    "sh_strength",
    "expression_scale",
    # Appended later (issue #17): light colour temperature and background augmentation.
    "light_temperature_k",
    "bg_flip",
    "bg_brightness",
    "bg_contrast",
    "bg_gain_r",
    "bg_gain_g",
    "bg_gain_b",
    "bg_procedural",
    "bg_texture_seed",
)
FACTORS = FACTOR_NAMES


def _floats(values) -> list[float]:
    """Values as float32, then as Python floats (exact), for a FloatList."""
    return np.asarray(values, np.float32).ravel().tolist()


def make_example(
    image: bytes,
    q: np.ndarray,
    factors: dict[str, float],
    scenario: str,
    seed: int,
    index: int,
    landmarks: np.ndarray | None = None,
    mask: bytes | None = None,
    depth: bytes | None = None,
    sh_light: np.ndarray | None = None,
    expression: np.ndarray | None = None,
) -> bytes:
    """Serializes one rendered example (optional parts are left out when None).

    Features are filled in place (a third of the time of building a
    `tf.train.Feature` per value) and serialized deterministically: the
    feature map in key order, so the bytes depend only on the values.
    """
    example = tf.train.Example()
    feature = example.features.feature
    feature[IMAGE].bytes_list.value.append(image)
    feature[PARAMETERS].float_list.value.extend(_floats(q))
    feature[SCENARIO].bytes_list.value.append(scenario.encode())
    feature[SEED].int64_list.value.append(int(seed))
    feature[INDEX].int64_list.value.append(int(index))
    feature[SH_LIGHT].float_list.value.extend(_floats(np.zeros(27) if sh_light is None else sh_light))
    if landmarks is not None:
        feature[LANDMARKS].float_list.value.extend(_floats(landmarks))
    if depth is not None:
        feature[DEPTH].bytes_list.value.append(depth)
    if expression is not None and np.size(expression):
        feature[EXPRESSION].float_list.value.extend(_floats(expression))
    for name, value in zip(FACTORS, _floats([factors[name] for name in FACTORS]), strict=True):
        feature[name].float_list.value.append(value)
    if mask is not None:
        feature[MASK].bytes_list.value.append(mask)
    return example.SerializeToString(deterministic=True)


def feature_spec(num_parameters: int, num_landmarks: int | None = None) -> dict[str, tf.io.FixedLenFeature]:
    """Parsing spec for `tf.io.parse_example` (optional image-like parts are left out)."""
    spec = {
        IMAGE: tf.io.FixedLenFeature([], tf.string),
        PARAMETERS: tf.io.FixedLenFeature([num_parameters], tf.float32),
        SCENARIO: tf.io.FixedLenFeature([], tf.string),
        SEED: tf.io.FixedLenFeature([], tf.int64),
        INDEX: tf.io.FixedLenFeature([], tf.int64),
        SH_LIGHT: tf.io.FixedLenFeature([27], tf.float32),
    }
    if num_landmarks is not None:
        spec[LANDMARKS] = tf.io.FixedLenFeature([2 * num_landmarks], tf.float32)
    for name in FACTORS:
        spec[name] = tf.io.FixedLenFeature([], tf.float32)
    return spec


def load_schema():
    """The TFX schema (tensorflow_metadata Schema proto) of rendered examples."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    return text_format.Parse(SCHEMA_FILE.read_text(), schema_pb2.Schema())
