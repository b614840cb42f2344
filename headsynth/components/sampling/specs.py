"""Sampler specs: a sampler's name with its parameters, `name[:a,b,...]`, and what follows from them.

    naive_uniform:3.5        U(-3.5, 3.5)
    naive_normal:1.8         N(0, 1.8)
    composite:0.8,2,2.6      80% N(0, 2) + 20% U(-2.6, 2.6), columns shuffled
    meta_normal:0.5,2        per vector sigma ~ U(0.5, 2), then N(0, sigma)

Arguments are positional, in the order of `FORMS[name]`; any may be left off
from the end (the defaults are Table 5.1's values). A spec is read the same
wherever a sampler is named (`sampling.sampler`, `generative.study_samplers`,
`sample_parameters`): `parse_sampler_spec` checks the name, the number and
kind of the arguments and their ranges, and raises a `ConfigError` that names
the sampler, what it received and the arguments it takes.

Options that are not parameters of the distribution (a parameter file, a
fitted model's folder, the rendering scale) are not part of a spec; the
pipeline and the studies pass them as keyword options.

`sampler_bound` gives the range a sampler's q lie in (for the thesis's tanh
head, whose output is scaled to it), `sampler_label` the row name of the
thesis's Table 6.6.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

import numpy as np

from headsynth.components.generative.store import REALISTIC_FILE
from headsynth.core.errors import ConfigError
from headsynth.data_schemas.parameter_files import load_parameter_file


@dataclass(frozen=True)
class Argument:
    """One positional argument of a spec: its keyword in the sampler function, rule and default."""

    keyword: str
    rule: str  # "positive", "fraction", "count" or "name"
    default: float | int | str

    def describe(self) -> str:
        return f"{self.keyword} {RULE_TEXT[self.rule]}"

    def parse(self, raw: str) -> float | int | str:
        """The value of `raw`; ValueError if it is not of the rule's kind or out of its range."""
        if self.rule == "name":
            if not re.fullmatch(r"[A-Za-z0-9_]*", raw):
                raise ValueError(raw)
            return raw
        value = int(raw) if self.rule == "count" else float(raw)
        self.check(value)
        return value

    def check(self, value) -> None:
        """ValueError unless `value` (already of the right type) obeys the rule."""
        if self.rule == "name":
            if not isinstance(value, str):
                raise ValueError(value)
            return
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise ValueError(value)
        if self.rule == "count" and (int(value) != value or value < 0):
            raise ValueError(value)
        if not math.isfinite(value) or (self.rule == "positive" and value <= 0):
            raise ValueError(value)
        if self.rule == "fraction" and not 0 <= value <= 1:
            raise ValueError(value)


RULE_TEXT = {"positive": "> 0", "fraction": "in [0, 1]", "count": "(an integer >= 0)", "name": "(a name)"}


@dataclass(frozen=True)
class Form:
    """The arguments a sampler takes, and checks between them: (keyword a, keyword b) means a <= b."""

    arguments: tuple[Argument, ...] = ()
    ordered: tuple[tuple[str, str], ...] = ()

    def defaults(self) -> dict:
        return {a.keyword: a.default for a in self.arguments}


def _args(*items: tuple[str, str, float | int | str]) -> tuple[Argument, ...]:
    return tuple(Argument(*item) for item in items)


_NORMAL_STD = (("normal_std", "positive", 0.7),)
# Sampler name -> its spec form. Defaults are Table 5.1's values (and the sampler functions' defaults).
FORMS: dict[str, Form] = {
    "paper_uniform": Form(),
    "naive_uniform": Form(_args(("limit", "positive", 4.0))),
    "naive_normal": Form(_args(("std", "positive", 1.5))),
    "composite": Form(
        _args(
            ("normal_fraction", "fraction", 0.8),
            ("normal_std", "positive", 1.0),
            ("uniform_limit", "positive", 6.0),
        )
    ),
    "normal_beta_uniform": Form(
        _args(
            *_NORMAL_STD,
            ("beta_a", "positive", 3.0),
            ("beta_b", "positive", 15.0),
            ("uniform_limit", "positive", 6.0),
        )
    ),
    "beta_composite": Form(
        _args(
            *_NORMAL_STD,
            ("beta_a", "positive", 3.0),
            ("beta_b", "positive", 15.0),
            ("uniform_limit", "positive", 6.0),
        )
    ),
    "meta_composite": Form(
        _args(
            *_NORMAL_STD,
            ("share_low", "fraction", 0.0),
            ("share_high", "fraction", 0.25),
            ("uniform_limit", "positive", 6.0),
        ),
        ordered=(("share_low", "share_high"),),
    ),
    "meta_normal": Form(
        _args(("sigma_low", "positive", 0.5), ("sigma_high", "positive", 2.0)),
        ordered=(("sigma_low", "sigma_high"),),
    ),
    "fitted_uniform": Form(_args(("stds", "positive", 3.0))),
    "fitted_normal": Form(),
    "fitted_data": Form(),
    "gmm": Form(_args(("components", "count", 0))),
    "cgan": Form(_args(("variant", "name", ""))),
}

# Short names: the thesis's two conditional GANs.
ALIASES = {"cvgan1": "cgan:cvgan1", "cvgan2": "cgan:cvgan2"}

# Samplers whose vectors come from data: a parameter file (fitted_*), or a fitted model (gmm, cgan).
FITTED_SAMPLERS = ("fitted_uniform", "fitted_normal", "fitted_data")
GENERATIVE_SAMPLERS = ("gmm", "cgan")

_NUMBER_WORDS = ("no", "one", "two", "three", "four", "five")


@dataclass(frozen=True)
class SamplerSpec:
    """A parsed spec: the sampler's name and the arguments it was given (keyword -> value)."""

    name: str
    arguments: tuple[tuple[str, float | int | str], ...] = ()
    text: str = ""

    @property
    def options(self) -> dict:
        """The given arguments as the sampler function's keyword options."""
        return dict(self.arguments)

    @property
    def values(self) -> dict:
        """Every argument, the defaults filled in."""
        return {**FORMS[self.name].defaults(), **self.options}


def expected_arguments(name: str) -> str:
    """What `name` takes, in words: "one argument std > 0" or "up to three arguments ..."."""
    form = FORMS[name]
    count = len(form.arguments)
    if not count:
        return "no arguments"
    words = _NUMBER_WORDS[count] if count < len(_NUMBER_WORDS) else str(count)
    text = f"{'one' if count == 1 else 'up to ' + words} argument{'s' if count > 1 else ''} "
    text += ", ".join(a.describe() for a in form.arguments)
    if form.ordered:
        text += ", with " + " and ".join(f"{a} <= {b}" for a, b in form.ordered)
    return text


# Examples for the samplers whose defaults make a poor one.
_EXAMPLES = {"gmm": "gmm:25", "cgan": "cgan:cvgan2"}


def example_spec(name: str) -> str:
    """A valid spec of `name`: its defaults written out, e.g. "composite:0.8,1,6"."""
    defaults = [f"{a.default:g}" for a in FORMS[name].arguments]
    return _EXAMPLES.get(name) or (f"{name}:{','.join(defaults)}" if defaults else name)


def _bad_spec(name: str, text: str, key: str) -> ConfigError:
    form = FORMS[name]
    if not form.arguments:
        fix = f"Set {key} to {name}."
    else:
        defaults = ", ".join(f"{a.keyword} {a.default!r}" for a in form.arguments)
        fix = f"Set {key} to e.g. {example_spec(name)}; arguments left off from the end take their defaults ({defaults})."
    return ConfigError(f"{name} takes {expected_arguments(name)}. Received: {text!r}.", fix)


def check_values(name: str, values: dict, text: str, key: str = "sampler") -> None:
    """Checks the spec arguments among `values` (a sampler's keyword options) against the form of `name`.

    Raises:
        ConfigError: for a value out of range or of the wrong kind, naming the sampler and its arguments.
    """
    form = FORMS[name]
    try:
        for argument in form.arguments:
            if argument.keyword in values:
                argument.check(values[argument.keyword])
    except ValueError:
        raise _bad_spec(name, text, key) from None
    full = {**form.defaults(), **values}
    if any(full[a] > full[b] for a, b in form.ordered):
        raise _bad_spec(name, text, key)


def parse_sampler_spec(text: str, key: str = "sampler") -> SamplerSpec:
    """Reads `name[:a,b,...]`.

    Args:
        text: the spec.
        key: the configuration key it came from, for the error message.

    Raises:
        ConfigError: for an unknown name (listing the known ones), or arguments that are too many,
            of the wrong kind or out of range (naming the sampler and the arguments it takes).
    """
    if not isinstance(text, str):
        raise ConfigError(f"{key} must be a sampler spec name[:a,b,...]. Received: {text!r}.")
    text = ALIASES.get(text.strip(), text)
    name, has_arguments, rest = text.strip().partition(":")
    name = name.strip()
    if name not in FORMS:
        shown = repr(name) if name == text else f"{name!r} (in {text!r})"
        raise ConfigError(
            f"Unknown {key} {shown}.",
            f"Choose one of: {', '.join(sorted([*FORMS, *ALIASES]))}, with arguments as name:a,b,... .",
        )
    form = FORMS[name]
    raw = [part.strip() for part in rest.split(",")] if has_arguments else []
    if len(raw) > len(form.arguments) or any(not part for part in raw) and form.arguments[0].rule != "name":
        raise _bad_spec(name, text, key)
    try:
        arguments = tuple((a.keyword, a.parse(part)) for a, part in zip(form.arguments, raw, strict=False))
    except ValueError:
        raise _bad_spec(name, text, key) from None
    spec = SamplerSpec(name, arguments, text.strip())
    check_values(name, spec.options, text, key)
    return spec


def sampler_label(spec: SamplerSpec) -> str:
    """The spec's row name in the thesis's Table 6.6 wording ("naive normal sigma 1.8")."""
    v = spec.values
    labels = {
        "paper_uniform": lambda: "paper uniform (U[-1,1] x 1.6)",
        "naive_uniform": lambda: f"naive uniform {v['limit']:g}",
        "naive_normal": lambda: f"naive normal sigma {v['std']:g}",
        "composite": lambda: (
            f"normal {v['normal_fraction'] * 10:g}/10 sigma {v['normal_std']:g} "
            f"uniform {10 - v['normal_fraction'] * 10:g}/10 {v['uniform_limit']:g}"
        ),
        "normal_beta_uniform": lambda: (
            f"normal sigma {v['normal_std']:g}; beta(a={v['beta_a']:g} b={v['beta_b']:g}) "
            f"x uniform {v['uniform_limit']:g}"
        ),
        "beta_composite": lambda: (
            f"normal sigma {v['normal_std']:g}, share beta(a={v['beta_a']:g} b={v['beta_b']:g}) "
            f"uniform {v['uniform_limit']:g}"
        ),
        "meta_composite": lambda: (
            f"meta normal sigma {v['normal_std']:g} {v['share_low'] * 100:g}-{v['share_high'] * 100:g} "
            f"uniform {v['uniform_limit']:g}"
        ),
        "meta_normal": lambda: f"meta normal sigma = [{v['sigma_low']:g}, {v['sigma_high']:g}]",
        "fitted_uniform": lambda: f"uniform mu +- {v['stds']:g} sigma fitted",
        "fitted_normal": lambda: "normal mu, sigma fitted",
        "fitted_data": lambda: "original data (realistic vectors)",
        "gmm": lambda: f"GMM {v['components']}" if v["components"] else "GMM (selected)",
        "cgan": lambda: f"CVGAN {v['variant']}".strip(),
    }
    return labels[spec.name]()


def _data_bound(spec: SamplerSpec, options: dict, stds: float) -> float:
    """The bound of a sampler drawing from data, from its parameter file (or unit sigma without one)."""
    target_scale = float(options.get("target_scale", 1.0))
    path = options.get("parameter_file") or (
        os.path.join(options["model_dir"], REALISTIC_FILE) if options.get("model_dir") else ""
    )
    if not path:
        # The realistic vectors are in sigma units: mean about 0, standard deviation about 1.
        mean, std, largest = 0.0, 1.0, stds
    else:
        vectors = load_parameter_file(path).astype(np.float64)
        mean, std, largest = np.abs(vectors.mean(axis=0)), vectors.std(axis=0, ddof=1), np.abs(vectors).max()
    if spec.name == "fitted_data":
        bound = largest
    elif spec.name == "fitted_uniform":
        bound = np.max(mean + spec.values["stds"] * std)
    else:
        bound = np.max(mean + stds * std)
    return float(bound) / target_scale


def sampler_bound(spec: SamplerSpec, options: dict | None = None, stds: float = 3.0) -> float:
    """The half-width of the interval a sampler's q lie in: exactly for bounded samplers, `stds`
    standard deviations for normal ones.

    Args:
        spec: the sampler.
        options: its keyword options (parameter_file, model_dir, target_scale for data samplers).
        stds: standard deviations a normal part reaches.
    """
    v = spec.values
    bounded = {
        "paper_uniform": lambda: 1.0,
        "naive_uniform": lambda: v["limit"],
        "naive_normal": lambda: stds * v["std"],
        "composite": lambda: max(
            stds * v["normal_std"] if v["normal_fraction"] > 0 else 0.0,
            v["uniform_limit"] if v["normal_fraction"] < 1 else 0.0,
        ),
        # N * Beta * U is concentrated near 0: stds of its own standard deviation.
        "normal_beta_uniform": lambda: stds
        * v["normal_std"]
        * math.sqrt(_beta_second_moment(v["beta_a"], v["beta_b"]) * v["uniform_limit"] ** 2 / 3),
        "beta_composite": lambda: max(stds * v["normal_std"], v["uniform_limit"]),
        "meta_composite": lambda: max(
            stds * v["normal_std"], v["uniform_limit"] if v["share_high"] > 0 else 0.0
        ),
        "meta_normal": lambda: stds * v["sigma_high"],
    }
    if spec.name in bounded:
        return float(bounded[spec.name]())
    return _data_bound(spec, options or {}, stds)


def _beta_second_moment(a: float, b: float) -> float:
    return a * b / ((a + b) ** 2 * (a + b + 1)) + (a / (a + b)) ** 2
