"""Property-based tests: valid input gives finite, in-range output; invalid input raises our error type."""

import string

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headsynth.components.rendering.scenarios import Factor, scenario_from_dict
from headsynth.components.sampling.samplers import SAMPLERS, sample_parameters
from headsynth.config import apply_overrides, get_preset
from headsynth.core.errors import HeadsynthError
from headsynth.data_schemas.features import FACTOR_NAMES
from headsynth.data_schemas.parameter_files import load_parameter_file
from headsynth.morphable.model import load_npz

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
anything = st.one_of(st.floats(), st.integers(), st.text(max_size=5), st.none())


@FAST
@given(
    kind=st.sampled_from(["constant", "uniform", "normal", "bernoulli"]),
    a=finite,
    b=finite,
    seed=st.integers(0, 2**32),
)
def test_valid_factors_sample_inside_their_bounds(kind, a, b, seed):
    if kind == "uniform":
        a, b = min(a, b), max(a, b)
    if kind == "normal":
        b = abs(b)
    if kind == "bernoulli":
        a = abs(a) / 1e6
    factor = Factor(kind, a, b)
    rng = np.random.default_rng(seed)
    low, high = factor.bounds()
    for _ in range(5):
        value = factor.sample(rng)
        assert np.isfinite(value) and low <= value <= high


@FAST
@given(kind=st.text(max_size=8), a=st.floats(), b=st.floats())
def test_any_factor_parameters_give_a_factor_or_our_error(kind, a, b):
    try:
        factor = Factor(kind, a, b)
    except HeadsynthError:
        return
    value = factor.sample(np.random.default_rng(0))
    assert np.isfinite(value)


@FAST
@given(
    values=st.dictionaries(
        st.sampled_from(["name", "base", "factors", "other"]),
        st.one_of(
            st.text(max_size=8),
            st.dictionaries(
                st.sampled_from([*FACTOR_NAMES[:4], "bogus"]),
                st.one_of(anything, st.lists(finite, max_size=3)),
            ),
        ),
        max_size=3,
    )
)
def test_any_scenario_dict_gives_a_scenario_or_our_error(values):
    try:
        scenario = scenario_from_dict(values)
    except HeadsynthError:
        return
    factors = scenario.sample(0, "train", 0)
    assert set(factors) == set(FACTOR_NAMES) and all(np.isfinite(v) for v in factors.values())


@FAST
@given(
    name=st.sampled_from(
        sorted(n for n in SAMPLERS if not n.startswith("fitted") and n not in ("gmm", "cgan"))
    ),
    count=st.integers(1, 50),
    width=st.integers(1, 20),
    seed=st.integers(0, 2**32),
)
def test_samplers_give_finite_vectors_of_the_asked_shape(name, count, width, seed):
    values = sample_parameters(name, count, width, seed)
    assert values.shape == (count, width) and values.dtype == np.float32
    assert np.all(np.isfinite(values))
    assert np.array_equal(values, sample_parameters(name, count, width, seed))
    if name == "paper_uniform":
        assert np.all(np.abs(values) <= 1.0)


@FAST
@given(name=st.text(max_size=10), count=st.integers(-5, 5), width=st.integers(-5, 5))
def test_bad_sampler_requests_raise_our_error(name, count, width):
    try:
        values = sample_parameters(name, count, width, 0)
    except HeadsynthError:
        return
    assert values.shape == (count, width)


@FAST
@given(data=st.binary(max_size=200))
def test_any_bytes_as_a_model_file_raise_our_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("model") / "model.npz"
    path.write_bytes(data)
    with pytest.raises(HeadsynthError):
        load_npz(path)


@FAST
@given(text=st.text(alphabet=string.printable, max_size=120), width=st.integers(1, 4))
def test_any_text_as_a_parameter_file_gives_vectors_or_our_error(tmp_path_factory, text, width):
    path = tmp_path_factory.mktemp("params") / "params.csv"
    path.write_text(text)
    try:
        vectors = load_parameter_file(path, width=width)
    except HeadsynthError:
        return
    assert vectors.ndim == 2 and vectors.shape[1] == width and np.all(np.isfinite(vectors))


@FAST
@given(override=st.text(alphabet=string.ascii_letters + "._=-,0123456789", max_size=30))
def test_any_override_gives_a_config_or_our_error(override):
    try:
        apply_overrides(get_preset("ci"), [override])
    except HeadsynthError:
        pass
