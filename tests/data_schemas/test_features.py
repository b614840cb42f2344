import numpy as np
import tensorflow as tf

from headsynth.components.rendering.scenarios import get_scenario
from headsynth.data_schemas import features
from headsynth.data_schemas.features import FACTOR_NAMES


def _example(m=6):
    factors = get_scenario("all").sample(3, "train", 5)
    return features.make_example(
        image=b"\x89PNG fake",
        q=np.arange(m, dtype=np.float32) / 10,
        factors=factors,
        scenario="all",
        seed=3,
        index=5,
        landmarks=np.ones((68, 2), np.float32),
    ), factors


def test_example_round_trips_through_the_feature_spec():
    serialized, factors = _example()
    parsed = tf.io.parse_single_example(serialized, features.feature_spec(6, num_landmarks=68))
    np.testing.assert_allclose(parsed["q"].numpy(), np.arange(6) / 10, rtol=1e-6)
    assert parsed["scenario"].numpy() == b"all"
    assert int(parsed["index"]) == 5 and int(parsed["seed"]) == 3
    for name in FACTOR_NAMES:
        assert abs(float(parsed[name]) - factors[name]) < 1e-4


def test_schema_file_describes_exactly_the_stored_features():
    serialized, _ = _example()
    stored = set(tf.train.Example.FromString(serialized).features.feature)
    schema = {feature.name for feature in features.load_schema().feature}
    assert stored <= schema
    assert schema - stored == {features.MASK, features.DEPTH, features.EXPRESSION}  # optional parts
    assert set(features.OPTIONAL) - {features.LANDMARKS} == schema - stored


def test_bytes_depend_on_the_values_alone():
    serialized, factors = _example()
    reordered = dict(reversed(list(factors.items())))  # another insertion order, the same values
    again = features.make_example(
        image=b"\x89PNG fake",
        q=np.arange(6, dtype=np.float64) / 10,  # float64 values are stored as the same float32s
        factors=reordered,
        scenario="all",
        seed=np.int64(3),
        index=5,
        landmarks=np.ones((68, 2)),
    )
    assert again == serialized
    assert serialized.find(b"bg_flip") < serialized.find(b"yaw_deg")  # the feature map in key order
    changed = features.make_example(
        image=b"\x89PNG fake",
        q=np.arange(6, dtype=np.float32) / 10,
        factors=dict(factors, yaw_deg=1.5),
        scenario="all",
        seed=3,
        index=5,
        landmarks=np.ones((68, 2), np.float32),
    )
    assert changed != serialized
