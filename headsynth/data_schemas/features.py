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


def _float(values) -> tf.train.Feature:
    return tf.train.Feature(float_list=tf.train.FloatList(value=np.asarray(values, np.float32).ravel()))


def _int(values) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=np.asarray(values, np.int64).ravel()))


def _bytes(value: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


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
    """Serializes one rendered example (optional parts are left out when None)."""
    feature = {
        IMAGE: _bytes(image),
        PARAMETERS: _float(q),
        SCENARIO: _bytes(scenario.encode()),
        SEED: _int([seed]),
        INDEX: _int([index]),
        SH_LIGHT: _float(np.zeros((9, 3)) if sh_light is None else sh_light),
    }
    if landmarks is not None:
        feature[LANDMARKS] = _float(landmarks)
    if depth is not None:
        feature[DEPTH] = _bytes(depth)
    if expression is not None and np.size(expression):
        feature[EXPRESSION] = _float(expression)
    for name in FACTORS:
        feature[name] = _float([factors[name]])
    if mask is not None:
        feature[MASK] = _bytes(mask)
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


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
