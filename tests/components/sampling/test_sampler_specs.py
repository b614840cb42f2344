"""Sampler specs `name[:a,b,...]`: every thesis row's spec draws what its definition says, bad specs are
named, and a spec means the same wherever a sampler is named.

Each spec of the README's table (the thesis's Tables 5.1 and 6.6) is drawn
20,000 times (x 10 parameters) and its mean, second and fourth moments, its
range, or for the mixtures the defining property, are compared with the
definition: moments within 5 standard errors (taken from per-row means, so
that rows are the independent units).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from headsynth import wiring
from headsynth.components.sampling import samplers
from headsynth.components.sampling.samplers import SAMPLERS, sample_parameters
from headsynth.components.sampling.specs import FORMS, parse_sampler_spec, sampler_bound, sampler_label
from headsynth.config import apply_overrides, get_preset
from headsynth.core.errors import ConfigError
from headsynth.data_schemas.parameter_files import save_parameter_file
from headsynth.study.samplers import plan_study

ROOT = Path(__file__).resolve().parents[3]
COUNT, WIDTH = 20_000, 10


def assert_moment(values: np.ndarray, expected: float, power: int) -> None:
    """E[q^power] over all entries is `expected` within 5 standard errors of the per-row means."""
    per_row = np.mean(values.astype(np.float64) ** power, axis=1)
    error = per_row.std(ddof=1) / np.sqrt(len(per_row))
    assert abs(per_row.mean() - expected) < 5 * error + 1e-12, (power, per_row.mean(), expected, error)


def uniform_moment(limit: float, power: int) -> float:
    return limit**power / (power + 1)


def normal_moment(std: float, power: int) -> float:
    return {2: std**2, 4: 3 * std**4}[power]


def beta_moment(a: float, b: float, power: int) -> float:
    return float(np.prod([(a + k) / (a + b + k) for k in range(power)]))


def mean_uniform_count(cdf, width: int) -> float:
    """E[round(share * width)] / width for a share with CDF `cdf`: the expected uniform share of a row."""
    edges = (np.arange(width + 2) - 0.5) / width
    probabilities = np.diff(np.clip([cdf(e) for e in edges], 0, 1))
    return float(np.sum(np.arange(width + 1) * probabilities)) / width


def mixture_moment(share: float, std: float, limit: float, power: int) -> float:
    return share * uniform_moment(limit, power) + (1 - share) * normal_moment(std, power)


def check_naive_uniform(q, limit):
    for power in (2, 4):
        assert_moment(q, uniform_moment(limit, power), power)
    assert -limit <= q.min() < -0.99 * limit and 0.99 * limit < q.max() <= limit


def check_naive_normal(q, std):
    for power in (2, 4):
        assert_moment(q, normal_moment(std, power), power)


def check_composite(q, fraction, std, limit):
    share = 1 - round(fraction * WIDTH) / WIDTH
    for power in (2, 4):
        assert_moment(q, mixture_moment(share, std, limit, power), power)


def check_normal_beta_uniform(q, std, a, b, limit):
    for power in (2, 4):
        expected = normal_moment(std, power) * beta_moment(a, b, power) * uniform_moment(limit, power)
        assert_moment(q, expected, power)


def check_meta_composite(q, std, low, high, limit):
    """A share ~ U(low, high) of each row from U(-x, x): |q| > 5 sigma marks uniform entries (N: p < 1e-6)."""
    share = mean_uniform_count(stats.uniform(low, high - low).cdf, WIDTH)
    for power in (2, 4):
        assert_moment(q, mixture_moment(share, std, limit, power), power)
    large = np.abs(q) > 5 * std
    assert large.sum(axis=1).max() <= round(high * WIDTH)  # no row has more uniform entries than its share
    assert_moment(large.astype(np.float64), share * (limit - 5 * std) / limit, 1)


def check_beta_composite(q, std, a, b, limit):
    share = mean_uniform_count(stats.beta(a, b).cdf, WIDTH)
    for power in (2, 4):
        assert_moment(q, mixture_moment(share, std, limit, power), power)


def check_meta_normal(q, low, high):
    """sigma ~ U(low, high) per row: E[q^2] = E[sigma^2], E[q^4] = 3 E[sigma^4], |q| correlated in a row."""
    for power in (2, 4):
        expected = (high ** (power + 1) - low ** (power + 1)) / ((power + 1) * (high - low))
        assert_moment(q, expected * (3 if power == 4 else 1), power)
    assert np.corrcoef(np.abs(q[:, 0]), np.abs(q[:, 1]))[0, 1] > 0.05


# The README's table, spec -> the check of its definition (the spec's arguments, defaults filled in).
CHECKS = {
    "naive_uniform": check_naive_uniform,
    "naive_normal": check_naive_normal,
    "composite": check_composite,
    "normal_beta_uniform": check_normal_beta_uniform,
    "beta_composite": check_beta_composite,
    "meta_composite": check_meta_composite,
    "meta_normal": check_meta_normal,
}
DRAWN_SPECS = [
    "naive_uniform:3.5",
    "naive_uniform:4",
    "naive_uniform:5",
    "naive_normal:1",
    "naive_normal:1.5",
    "naive_normal:1.8",
    "naive_normal:2",
    "composite:0.8,1,6",
    "composite:0.8,1,2.6",
    "composite:0.8,2,2.6",
    "normal_beta_uniform:0.7,3,15,6",
    "beta_composite:0.7,3,15,6",
    "meta_composite:0.7,0,0.25,6",
    "meta_normal:0.5,2",
]
FITTED_SPECS = ["fitted_uniform:3", "fitted_uniform:2", "fitted_normal", "fitted_data"]
GENERATIVE_SPECS = ["cvgan1", "cvgan2", *(f"gmm:{k}" for k in (1, 5, 25, 100, 400, 1000, 4000))]


@pytest.mark.parametrize("text", DRAWN_SPECS)
def test_each_spec_draws_its_definition(text):
    spec = parse_sampler_spec(text)
    q = sample_parameters(text, COUNT, WIDTH, seed=7)
    assert q.shape == (COUNT, WIDTH) and q.dtype == np.float32
    assert_moment(q, 0.0, 1)  # every one is symmetric about 0
    CHECKS[spec.name](q, *spec.values.values())
    assert np.abs(q).mean() < sampler_bound(spec)  # the head's range covers the bulk (see test_output_scale)


@pytest.fixture(scope="module")
def fitted_file(tmp_path_factory):
    """A parameter file whose 5 columns have distinct means and standard deviations."""
    rng = np.random.default_rng(0)
    vectors = rng.normal([0.5, -1.0, 0.0, 2.0, 0.1], [0.2, 1.0, 3.0, 0.5, 1.5], size=(400, 5))
    path = tmp_path_factory.mktemp("fitted") / "pfit.npz"
    save_parameter_file(path, vectors)
    stored = vectors.astype(np.float32).astype(np.float64)
    return str(path), stored


@pytest.mark.parametrize("text", FITTED_SPECS)
def test_each_fitted_spec_draws_its_definition(fitted_file, text):
    """Table 5.1's fitted uniform is U(mu - 3 sigma, mu + 3 sigma); "uniform x 2" its 2 sigma version."""
    path, stored = fitted_file
    mean, std = stored.mean(axis=0), stored.std(axis=0, ddof=1)
    q = sample_parameters(text, COUNT, 5, seed=5, options={"parameter_file": path}).astype(np.float64)
    spec = parse_sampler_spec(text)
    if spec.name == "fitted_data":
        # The realistic vectors themselves, each once per pass: 20,000 = 50 passes over 400 rows.
        rows, counts = np.unique(q, axis=0, return_counts=True)
        assert len(rows) == 400 and set(counts) == {50}
        np.testing.assert_array_equal(np.unique(stored.astype(np.float32), axis=0), rows.astype(np.float32))
        return
    half = spec.values["stds"] * std if spec.name == "fitted_uniform" else None
    variance = half**2 / 3 if half is not None else std**2
    kurtosis = 1.8 if half is not None else 3.0
    np.testing.assert_array_less(np.abs(q.mean(axis=0) - mean), 5 * np.sqrt(variance / COUNT))
    variance_error = variance * np.sqrt((kurtosis - 1) / COUNT)
    np.testing.assert_array_less(np.abs(q.var(axis=0) - variance), 5 * variance_error)
    if half is not None:
        assert np.all(q.min(axis=0) >= mean - half - 1e-4) and np.all(q.max(axis=0) <= mean + half + 1e-4)
        assert np.all(q.min(axis=0) < mean - 0.99 * half) and np.all(q.max(axis=0) > mean + 0.99 * half)


def test_fitted_samplers_scale_the_file_to_the_rendering_scale(fitted_file):
    path, _ = fitted_file
    at_one = sample_parameters("fitted_data", 50, 5, 1, {"parameter_file": path})
    at_two = sample_parameters("fitted_data", 50, 5, 1, {"parameter_file": path, "target_scale": 2.0})
    np.testing.assert_allclose(at_two, at_one / 2, rtol=1e-6)
    with pytest.raises(ConfigError, match="fitted_normal.*given none"):
        sample_parameters("fitted_normal", 10, 5, 0)


def readme_specs() -> list[str]:
    """The spec column of the README's samplers table."""
    text = (ROOT / "README.md").read_text()
    section = re.search(r"^### Samplers: the thesis's Tables 5.1 and 6.6\n(.*?)(?=^##)", text, re.S | re.M)
    assert section, "README has no samplers section"
    rows = [line for line in section.group(1).splitlines() if line.startswith("| ") and "`" in line]
    return [spec for row in rows for spec in re.findall(r"`([^`]+)`", row.split("|")[3])]


def test_the_readme_table_lists_every_thesis_row_with_a_tested_spec():
    listed = readme_specs()
    assert set(listed) == {*DRAWN_SPECS, *FITTED_SPECS, *GENERATIVE_SPECS}, set(listed) ^ {
        *DRAWN_SPECS,
        *FITTED_SPECS,
        *GENERATIVE_SPECS,
    }
    for text in listed:
        parse_sampler_spec(text)
    # 7 rows of Table 5.1 and 12 "Random" + 4 "p-fit" + 9 generative rows of Table 6.6.
    assert len(listed) == 7 + 12 + 4 + 9 + 1  # Table 5.1's beta row also lists the mixture reading


@pytest.mark.parametrize("name", sorted(FORMS))
def test_every_sampler_has_a_form_whose_defaults_are_the_functions(name):
    defaults = {
        k: p.default
        for k, p in inspect.signature(SAMPLERS[name]).parameters.items()
        if p.default is not p.empty
    }
    assert {k: defaults[k] for k in FORMS[name].defaults()} == FORMS[name].defaults()
    assert set(FORMS) == set(SAMPLERS)


def test_defaults_are_table_5_1s_and_a_spec_equals_its_options():
    assert FORMS["composite"].defaults() == {"normal_fraction": 0.8, "normal_std": 1.0, "uniform_limit": 6.0}
    assert FORMS["meta_normal"].defaults() == {"sigma_low": 0.5, "sigma_high": 2.0}
    assert FORMS["fitted_uniform"].defaults() == {"stds": 3.0}
    plain = sample_parameters("composite", 30, 6, seed=3)
    np.testing.assert_array_equal(plain, sample_parameters("composite:0.8,1,6", 30, 6, seed=3))
    np.testing.assert_array_equal(plain, sample_parameters("composite:0.8", 30, 6, seed=3))
    np.testing.assert_array_equal(
        sample_parameters("composite:0.8,2,2.6", 30, 6, seed=3),
        sample_parameters("composite", 30, 6, 3, {"normal_std": 2.0, "uniform_limit": 2.6}),
    )
    assert sampler_label(parse_sampler_spec("naive_normal:1.8")) == "naive normal sigma 1.8"
    assert sampler_label(parse_sampler_spec("composite:0.8,2,2.6")) == "normal 8/10 sigma 2 uniform 2/10 2.6"


@pytest.mark.parametrize("text", [*DRAWN_SPECS, "paper_uniform", "meta_composite", "beta_composite"])
def test_same_spec_and_seed_same_bytes(text):
    first = sample_parameters(text, 40, 7, seed=11)
    assert first.tobytes() == sample_parameters(text, 40, 7, seed=11).tobytes()
    assert first.tobytes() == sample_parameters(f" {text} ", 40, 7, seed=[11]).tobytes()
    assert first.tobytes() != sample_parameters(text, 40, 7, seed=12).tobytes()


@pytest.mark.parametrize(
    "text, message",
    [
        ("naive_normal:-1", "naive_normal takes one argument std > 0. Received: 'naive_normal:-1'."),
        ("naive_normal:0", "naive_normal takes one argument std > 0. Received: 'naive_normal:0'."),
        ("naive_uniform:four", "naive_uniform takes one argument limit > 0. Received: 'naive_uniform:four'."),
        ("naive_uniform:3,4", "naive_uniform takes one argument limit > 0. Received: 'naive_uniform:3,4'."),
        ("naive_uniform:inf", "naive_uniform takes one argument limit > 0. Received: 'naive_uniform:inf'."),
        ("naive_normal:", "naive_normal takes one argument std > 0. Received: 'naive_normal:'."),
        (
            "composite:1.5",
            "composite takes up to three arguments normal_fraction in [0, 1], normal_std > 0, "
            "uniform_limit > 0. Received: 'composite:1.5'.",
        ),
        (
            "meta_normal:2,0.5",
            "meta_normal takes up to two arguments sigma_low > 0, sigma_high > 0, with sigma_low <= sigma_high. "
            "Received: 'meta_normal:2,0.5'.",
        ),
        (
            "meta_composite:0.7,0.3,0.2",
            "with share_low <= share_high. Received: 'meta_composite:0.7,0.3,0.2'.",
        ),
        (
            "normal_beta_uniform:0.7,0",
            "normal_beta_uniform takes up to four arguments normal_std > 0, beta_a > 0",
        ),
        ("fitted_normal:1", "fitted_normal takes no arguments. Received: 'fitted_normal:1'."),
        ("gmm:2.5", "gmm takes one argument components (an integer >= 0). Received: 'gmm:2.5'."),
        ("paper_uniform:1", "paper_uniform takes no arguments."),
        ("gaussian:1", "Unknown sampler 'gaussian' (in 'gaussian:1'). Choose one of: beta_composite, cgan"),
    ],
)
def test_a_bad_spec_names_the_sampler_what_it_received_and_the_arguments(text, message):
    with pytest.raises(ConfigError) as error:
        sample_parameters(text, 10, 3, 0)
    assert message in str(error.value)
    if not text.startswith("gaussian"):
        assert "Set sampler to " in str(error.value)  # with a valid spec to copy


def test_an_argument_given_twice_must_agree():
    with pytest.raises(ConfigError, match="'naive_uniform:3' sets limit, and the options say otherwise"):
        sample_parameters("naive_uniform:3", 10, 3, 0, {"limit": 5.0})
    with pytest.raises(ConfigError) as error:
        sample_parameters("naive_uniform", 10, 3, 0, {"limit": -5.0})
    assert (
        "naive_uniform takes one argument limit > 0. Received: \"naive_uniform with options {'limit': -5.0}\""
        in str(error.value)
    )
    with pytest.raises(ConfigError, match="Bad options"):
        sample_parameters("naive_uniform", 10, 3, 0, {"std": 1.0})


@pytest.mark.parametrize("text", ["naive_normal:-1", "composite:0.8,2,-2.6", "magic:2"])
def test_a_spec_is_read_the_same_wherever_a_sampler_is_named(text):
    """sampling.sampler (config check), generative.study_samplers (config check and the study's plan) and
    sample_parameters raise the same message for the same bad spec."""
    with pytest.raises(ConfigError) as direct:
        parse_sampler_spec(text, key="sampling.sampler")
    config = apply_overrides(get_preset("ci"), [f"sampling.sampler={text}"])
    with pytest.raises(ConfigError) as checked:
        wiring.check_names(config)
    assert str(checked.value) == str(direct.value)
    study = apply_overrides(get_preset("ci"), [f"generative.study_samplers=naive_uniform:3.5,{text}"])
    assert study.generative.study_samplers == ("naive_uniform:3.5", text)
    with pytest.raises(ConfigError) as checked_study:
        wiring.check_names(study)
    if not text.startswith("magic"):
        with pytest.raises(ConfigError) as planned:
            plan_study(study)
        assert (
            str(planned.value)
            == str(checked_study.value)
            == str(direct.value).replace("sampling.sampler", "generative.study_samplers")
        )
    with pytest.raises(ConfigError) as drawn:
        sample_parameters(text, 5, 3, 0)
    assert str(drawn.value) == str(direct.value).replace("sampling.sampler", "sampler")


def test_good_specs_reach_the_pipeline_and_the_study_as_the_same_draws():
    from headsynth.study.samplers_data import sample_entry

    specs = "naive_uniform:3.5,composite:0.8,2,2.6;meta_normal:0.5,2,naive_normal:1.8"
    config = wiring.check_names(
        apply_overrides(
            get_preset("ci"), ["sampling.sampler=composite:0.8,2,2.6", f"generative.study_samplers={specs}"]
        )
    )
    assert wiring.sampling_parameters(config)["sampler"] == "composite:0.8,2,2.6"
    plan = plan_study(config)
    assert list(plan.entries) == [
        "naive_uniform_3.5",
        "composite_0.8_2_2.6",
        "meta_normal_0.5_2",
        "naive_normal_1.8",
    ]
    entry = plan.entries["composite_0.8_2_2.6"]
    assert (entry.sampler, entry.options, entry.label) == (
        "composite",
        {"normal_fraction": 0.8, "normal_std": 2.0, "uniform_limit": 2.6},
        "normal 8/10 sigma 2 uniform 2/10 2.6",
    )
    q, _ = sample_entry(config, plan, entry, 6, "/nonexistent", seed=[0, 1])
    np.testing.assert_array_equal(q, sample_parameters("composite:0.8,2,2.6", plan.num_train, 6, [0, 1]))


def test_generative_specs_name_the_mixture_and_the_gan_to_fit():
    config = wiring.check_names(apply_overrides(get_preset("ci"), ["sampling.sampler=gmm:3"]))
    assert (
        wiring.uses_generative_model(config)
        and wiring.generative_parameters(config)["gmm_components"] == "1,2,3,4"
    )
    gan = wiring.check_names(
        apply_overrides(get_preset("ci"), ["sampling.sampler=cgan:cvgan1", "generative.cgan_variants=cvgan2"])
    )
    assert wiring.generative_parameters(gan)["cgan_variants"] == "cvgan2,cvgan1"
    fitted = wiring.check_names(apply_overrides(get_preset("ci"), ["sampling.sampler=fitted_uniform:2"]))
    assert (
        wiring.uses_generative_model(fitted) and wiring.generative_parameters(fitted)["cgan_variants"] == ""
    )
    plan = plan_study(
        apply_overrides(get_preset("ci"), ["generative.study_samplers=gmm:25,cvgan1,fitted_data"])
    )
    assert {k: (e.sampler, e.options) for k, e in plan.entries.items()} == {
        "gmm_25": ("gmm", {"components": 25}),
        "cvgan1": ("cgan", {"variant": "cvgan1"}),
        "fitted_data": ("fitted_data", {}),
    }
    assert 25 in plan.gmm_components and plan.cgan_variants[-1] == "cvgan1"
    assert plan.entries["cvgan1"].label == "CVGAN1 [2000, 1000, 500] dropout"


def test_the_sampling_component_passes_fitted_samplers_the_fitted_vectors():
    from headsynth.components.sampling.component import generative_options

    assert generative_options("fitted_uniform:2", "/fit", 1.6) == {
        "parameter_file": "/fit/realistic.npz",
        "target_scale": 1.6,
    }
    assert generative_options("gmm:8", "/fit", 1.0) == {"model_dir": "/fit", "target_scale": 1.0}
    assert generative_options("naive_uniform:3.5", "", 1.0) == {}
    with pytest.raises(ConfigError, match="needs the generative_model input"):
        generative_options("fitted_data", "", 1.0)


def test_sampler_bounds():
    """The half-width a tanh head must reach: a uniform's limit, 3 standard deviations of a normal."""
    bound = {t: sampler_bound(parse_sampler_spec(t)) for t in ("naive_uniform:4", "naive_normal:1.5")}
    assert bound == {"naive_uniform:4": 4.0, "naive_normal:1.5": pytest.approx(4.5)}
    assert sampler_bound(parse_sampler_spec("naive_normal:1.5"), stds=2) == pytest.approx(3.0)
    assert sampler_bound(parse_sampler_spec("composite:0.8,1,2.6")) == pytest.approx(3.0)
    assert sampler_bound(parse_sampler_spec("meta_normal")) == pytest.approx(6.0)
    assert sampler_bound(parse_sampler_spec("paper_uniform")) == 1.0
    # Samplers drawing from data: from the file when given, else unit sigma; at the rendering scale.
    assert sampler_bound(parse_sampler_spec("gmm:8"), {"target_scale": 1.6}) == pytest.approx(3 / 1.6)
    assert samplers.GENERATIVE_SAMPLERS == ("gmm", "cgan")
