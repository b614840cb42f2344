"""Scenarios: named distributions over every scene factor.

A scenario gives each factor (yaw, pitch, roll, focal length, translation,
light, background, ...) its own distribution, so users can define new ones.
The four of the paper (Goepfert et al., the variability of synthetic heads)
and one beyond it are registered in `SCENARIOS`:

- none:      fixed ~45 degree yaw, solid gray background.
- angle:     yaw uniform in +-90 degrees, same background.
- angle_bg:  like angle, over backgrounds: randomly scaled and placed crops
             of photographs, flipped left-right half of the time and
             colour-jittered (brightness 0.7-1.3, contrast 0.7-1.3, gain
             0.85-1.15 per channel), and in 30% of the examples a procedural
             texture (gradient, value noise, stripes, checks) instead.
- all:       like angle_bg, plus what the paper lists: scalp hair (p=0.5) and
             facial hair (p=0.3) on or off, light colour (a black body at a
             colour temperature uniform in 3000-9000 K: tungsten ~3000 K,
             daylight 5000-6500 K, overcast sky and shade 7000-9000 K) and
             intensity (directional 0.5-1.5, ambient 0.2-0.5), focal length
             (40-70 mm), and translation in the image plane and in depth
             (420-620 mm). Pitch, roll, expression and the light's direction
             stay fixed and there is no spherical-harmonics light, as in the
             paper.
- all_extra: all, plus what the paper does not vary: pitch (+-15 degrees),
             roll (+-10 degrees), expressions (expression_scale 0-1 sigma,
             when the model has an expression part), the light's direction
             (azimuth +-70, elevation -10-60 degrees), spherical-harmonics
             light (sh_strength 0-0.5), a wider colour temperature
             (2000-12000 K) and a mild tint off the black-body colours
             (light_r/g/b 0.9-1).

Every example's factors are drawn from a generator seeded by
(seed, split, index), so they do not depend on batching or workers.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from headsynth.core.errors import ConfigError
from headsynth.data_schemas.features import FACTOR_NAMES

SPLITS = ("train", "eval")


@dataclass(frozen=True)
class Factor:
    """The distribution of one scalar scene factor.

    Attributes:
        kind: "constant" (value a), "uniform" (a..b), "normal" (mean a, std b),
            "bernoulli" (1 with probability a, else 0), or "mixture" (one of
            `components`, picked with probability proportional to its weight).
        a: first parameter.
        b: second parameter.
        components: for "mixture": (weight, Factor) pairs.
    """

    kind: str = "constant"
    a: float = 0.0
    b: float = 0.0
    components: tuple[tuple[float, Factor], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in FACTOR_KINDS:
            raise ConfigError(
                f"Unknown factor kind {self.kind!r}.", f"Use one of: {', '.join(FACTOR_KINDS)}."
            )
        if not (np.isfinite(self.a) and np.isfinite(self.b)):
            raise ConfigError(f"Factor parameters must be finite. Received: a={self.a}, b={self.b}.")
        if self.kind == "uniform" and self.b < self.a:
            raise ConfigError(f"Uniform factor needs a <= b. Received: a={self.a}, b={self.b}.")
        if self.kind == "normal" and self.b < 0:
            raise ConfigError(f"Normal factor needs std b >= 0. Received: {self.b}.")
        if self.kind == "bernoulli" and not 0 <= self.a <= 1:
            raise ConfigError(f"Bernoulli factor needs 0 <= a <= 1. Received: {self.a}.")
        if self.kind == "mixture":
            weights = [w for w, _ in self.components]
            if not weights or min(weights) < 0 or sum(weights) <= 0:
                raise ConfigError(
                    f"Mixture factor needs components with non-negative weights summing above 0. "
                    f"Received: {weights}."
                )

    def sample(self, rng: np.random.Generator) -> float:
        """Draws one value (one uniform and one normal, plus a component's draws for mixtures)."""
        u, n = rng.uniform(), rng.normal()
        if self.kind == "constant":
            return float(self.a)
        if self.kind == "uniform":
            return float(self.a + (self.b - self.a) * u)
        if self.kind == "normal":
            return float(self.a + self.b * n)
        if self.kind == "bernoulli":
            return float(u < self.a)
        weights = np.array([w for w, _ in self.components], dtype=np.float64)
        pick = int(np.searchsorted(np.cumsum(weights / weights.sum()), u, side="right"))
        return self.components[min(pick, len(self.components) - 1)][1].sample(rng)

    def bounds(self) -> tuple[float, float]:
        """The range the factor can take (normal: +-inf unless std is 0)."""
        if self.kind == "constant":
            return (self.a, self.a)
        if self.kind == "uniform":
            return (self.a, self.b)
        if self.kind == "bernoulli":
            return (0.0, 1.0)
        if self.kind == "mixture":
            ranges = [f.bounds() for w, f in self.components if w > 0]
            return (min(r[0] for r in ranges), max(r[1] for r in ranges))
        return (self.a, self.a) if self.b == 0 else (-np.inf, np.inf)

    def to_dict(self) -> dict:
        if self.kind == "mixture":
            return {"kind": "mixture", "components": [[w, f.to_dict()] for w, f in self.components]}
        return {"kind": self.kind, "a": self.a, "b": self.b}

    @classmethod
    def from_dict(cls, values) -> Factor:
        """A factor from a number (constant), a dict, or a [low, high] pair (uniform)."""
        if isinstance(values, (int, float)):
            return cls("constant", float(values))
        if isinstance(values, (list, tuple)) and len(values) == 2:
            return cls("uniform", float(values[0]), float(values[1]))
        if not isinstance(values, dict):
            raise ConfigError(
                f"Cannot read a scene factor from {values!r}.", "Use a number, [low, high] or a dict."
            )
        unknown = set(values) - {"kind", "a", "b", "components"}
        if unknown:
            raise ConfigError(
                f"Unknown factor keys {sorted(unknown)} in {values!r}.", "Use kind, a, b, components."
            )
        components = tuple((float(w), cls.from_dict(f)) for w, f in values.get("components", ()))
        return cls(
            values.get("kind", "constant"),
            float(values.get("a", 0.0)),
            float(values.get("b", 0.0)),
            components,
        )


FACTOR_KINDS = ("constant", "uniform", "normal", "bernoulli", "mixture")


def const(value: float) -> Factor:
    return Factor("constant", value)


def uniform(low: float, high: float) -> Factor:
    return Factor("uniform", low, high)


# The order of factor names fixes the order of draws: never reorder, only append.


@dataclass(frozen=True)
class Scenario:
    """Distributions of every scene factor.

    Angles are in degrees (yaw turns the head left/right, positive = the head
    turns to its left). focal_mm is the 35 mm-equivalent focal length;
    distance_mm the camera-to-head distance; shift_x/shift_y translate the head
    in the image plane as a fraction of the half-frame. background is 1 for a
    photograph and 0 for the solid gray; bg_pick picks the photograph and
    bg_scale/bg_x/bg_y place the crop. scalp_hair and facial_hair switch the
    hair proxies on (1) or off (0); hair_tone picks their colour from dark to
    fair. sh_strength scales random second-order spherical-harmonics light
    added to the directional light; expression_scale scales random expression
    coefficients (in sigma units) when the model has an expression part.
    light_temperature_k is the colour temperature of the light (a black body,
    white-balanced so 6500 K is white); light_r/g/b tint it further. Scenes
    with photographs are flipped left-right when bg_flip is 1 and jittered by
    bg_brightness, bg_contrast and bg_gain_r/g/b (1 = unchanged); bg_procedural
    1 swaps the photograph for a procedural texture drawn from bg_texture_seed.
    """

    name: str
    yaw_deg: Factor = field(default_factory=lambda: const(45.0))
    pitch_deg: Factor = field(default_factory=lambda: const(0.0))
    roll_deg: Factor = field(default_factory=lambda: const(0.0))
    focal_mm: Factor = field(default_factory=lambda: const(50.0))
    distance_mm: Factor = field(default_factory=lambda: const(480.0))
    shift_x: Factor = field(default_factory=lambda: const(0.0))
    shift_y: Factor = field(default_factory=lambda: const(0.0))
    light_azimuth_deg: Factor = field(default_factory=lambda: const(25.0))
    light_elevation_deg: Factor = field(default_factory=lambda: const(30.0))
    light_intensity: Factor = field(default_factory=lambda: const(1.0))
    light_r: Factor = field(default_factory=lambda: const(1.0))
    light_g: Factor = field(default_factory=lambda: const(1.0))
    light_b: Factor = field(default_factory=lambda: const(1.0))
    ambient: Factor = field(default_factory=lambda: const(0.35))
    background: Factor = field(default_factory=lambda: const(0.0))
    bg_scale: Factor = field(default_factory=lambda: uniform(0.3, 1.0))
    bg_x: Factor = field(default_factory=lambda: uniform(0.0, 1.0))
    bg_y: Factor = field(default_factory=lambda: uniform(0.0, 1.0))
    bg_pick: Factor = field(default_factory=lambda: uniform(0.0, 1.0))
    scalp_hair: Factor = field(default_factory=lambda: const(0.0))
    facial_hair: Factor = field(default_factory=lambda: const(0.0))
    hair_tone: Factor = field(default_factory=lambda: uniform(0.0, 1.0))
    sh_strength: Factor = field(default_factory=lambda: const(0.0))
    expression_scale: Factor = field(default_factory=lambda: const(0.0))
    light_temperature_k: Factor = field(default_factory=lambda: const(6500.0))
    bg_flip: Factor = field(default_factory=lambda: const(0.0))
    bg_brightness: Factor = field(default_factory=lambda: const(1.0))
    bg_contrast: Factor = field(default_factory=lambda: const(1.0))
    bg_gain_r: Factor = field(default_factory=lambda: const(1.0))
    bg_gain_g: Factor = field(default_factory=lambda: const(1.0))
    bg_gain_b: Factor = field(default_factory=lambda: const(1.0))
    bg_procedural: Factor = field(default_factory=lambda: const(0.0))
    bg_texture_seed: Factor = field(default_factory=lambda: uniform(0.0, 1.0))

    def __post_init__(self) -> None:
        low, _ = self.light_temperature_k.bounds()
        if not low > 0:
            raise ConfigError(
                f"Scenario {self.name!r}: light_temperature_k must stay above 0 kelvin. "
                f"Its lowest value is {low}.",
                "Use a constant, a [low, high] range or a mixture of ranges above 0 (6500 = white).",
            )

    def sample(self, seed: int, split: str, index: int) -> dict[str, float]:
        """Draws every factor of one example from its (seed, split, index) generator."""
        rng = example_rng(seed, split, index, stream=1)
        return {name: getattr(self, name).sample(rng) for name in FACTOR_NAMES}

    def uses_photographs(self) -> bool:
        return self.background.kind != "constant" or self.background.a > 0

    def to_dict(self) -> dict:
        """JSON-ready description (the format `scenario_from_dict` reads)."""
        return {"name": self.name, "factors": {n: getattr(self, n).to_dict() for n in FACTOR_NAMES}}


def sample_lighting_and_expression(
    factors: dict[str, float], seed: int, split: str, index: int, num_expression: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-example spherical-harmonics light `[9, 3]` and expression coefficients `[k]`.

    Drawn from their own (seed, split, index) streams and scaled by the
    example's `sh_strength` and `expression_scale` factors, so a scenario with
    both at 0 gets no SH light and a neutral expression.
    """
    strength = factors["sh_strength"]
    sh = example_rng(seed, split, index, stream=2).normal(0.0, 1.0, size=(9, 3)) * strength
    sh[0] = strength * (2.0 + 0.3 * sh[0])  # mostly positive ambient-like band 0, mild colour
    expression = example_rng(seed, split, index, stream=3).normal(0.0, 1.0, size=num_expression)
    return sh.astype(np.float32), (expression * factors["expression_scale"]).astype(np.float32)


def example_rng(seed: int, split: str, index: int, stream: int) -> np.random.Generator:
    """A generator that depends only on (seed, split, index, stream)."""
    if split not in SPLITS:
        raise ConfigError(f"Unknown split {split!r}.", f"Use one of {SPLITS}.")
    return np.random.default_rng([seed, SPLITS.index(split), index, stream])


# Where the key light may come from when its direction varies (all_extra, portrait; the paper varies
# only the light's colour and intensity).
LIGHT_AZIMUTH_DEG = uniform(-70.0, 70.0)
LIGHT_ELEVATION_DEG = uniform(-10.0, 60.0)

_NONE = Scenario(name="none")
_ANGLE = dataclasses.replace(_NONE, name="angle", yaw_deg=uniform(-90.0, 90.0))
_ANGLE_BG = dataclasses.replace(
    _ANGLE,
    name="angle_bg",
    background=const(1.0),
    bg_flip=Factor("bernoulli", 0.5),
    bg_brightness=uniform(0.7, 1.3),
    bg_contrast=uniform(0.7, 1.3),
    bg_gain_r=uniform(0.85, 1.15),
    bg_gain_g=uniform(0.85, 1.15),
    bg_gain_b=uniform(0.85, 1.15),
    bg_procedural=Factor("bernoulli", 0.3),
)
_ALL = dataclasses.replace(
    _ANGLE_BG,
    name="all",
    focal_mm=uniform(40.0, 70.0),
    distance_mm=uniform(420.0, 620.0),
    shift_x=uniform(-0.25, 0.25),
    shift_y=uniform(-0.2, 0.2),
    light_intensity=uniform(0.5, 1.5),
    light_temperature_k=uniform(3000.0, 9000.0),
    ambient=uniform(0.2, 0.5),
    scalp_hair=Factor("bernoulli", 0.5),
    facial_hair=Factor("bernoulli", 0.3),
)
_ALL_EXTRA = dataclasses.replace(
    _ALL,
    name="all_extra",
    pitch_deg=uniform(-15.0, 15.0),
    roll_deg=uniform(-10.0, 10.0),
    expression_scale=uniform(0.0, 1.0),
    sh_strength=uniform(0.0, 0.5),
    light_azimuth_deg=LIGHT_AZIMUTH_DEG,
    light_elevation_deg=LIGHT_ELEVATION_DEG,
    light_temperature_k=uniform(2000.0, 12000.0),
    light_r=uniform(0.9, 1.0),
    light_g=uniform(0.9, 1.0),
    light_b=uniform(0.9, 1.0),
)

# What portrait photos vary in, for a network that reads real photos: the paper's
# `all` with the pose of a portrait (yaw within 45 degrees, some pitch and roll),
# expressions, a little SH light and more ambient light than `all` (faces in
# photos are rarely half black).
_PORTRAIT = dataclasses.replace(
    _ALL,
    name="portrait",
    yaw_deg=uniform(-45.0, 45.0),
    pitch_deg=uniform(-15.0, 15.0),
    roll_deg=uniform(-10.0, 10.0),
    expression_scale=uniform(0.0, 1.0),
    sh_strength=uniform(0.0, 0.3),
    light_azimuth_deg=LIGHT_AZIMUTH_DEG,
    light_elevation_deg=LIGHT_ELEVATION_DEG,
    ambient=uniform(0.35, 0.6),
)

SCENARIOS: dict[str, Scenario] = {s.name: s for s in (_NONE, _ANGLE, _ANGLE_BG, _ALL, _ALL_EXTRA, _PORTRAIT)}


def scenario_from_dict(values: dict) -> Scenario:
    """A scenario from a dict: {"name": ..., "base": "angle", "factors": {name: factor, ...}}.

    Factors not given are taken from the base scenario (default "none"). A
    factor is a number (constant), a [low, high] pair (uniform) or a dict
    ({"kind": "normal", "a": mean, "b": std}, {"kind": "mixture", "components":
    [[weight, factor], ...]}).

    Raises:
        ConfigError: naming an unknown base, factor name or malformed factor.
    """
    if not isinstance(values, dict):
        raise ConfigError(f"A scenario must be a JSON object. Received: {values!r}.")
    unknown = set(values) - {"name", "base", "factors"}
    if unknown:
        raise ConfigError(f"Unknown scenario keys {sorted(unknown)}.", "Use name, base and factors.")
    base_name = values.get("base", "none")
    if not isinstance(base_name, str):
        raise ConfigError(f"Scenario 'base' must be a scenario name. Received: {base_name!r}.")
    base = get_scenario(base_name)
    factors = values.get("factors", {})
    if not isinstance(factors, dict):
        raise ConfigError(f"Scenario 'factors' must map factor names to factors. Received: {factors!r}.")
    bad = set(factors) - set(FACTOR_NAMES)
    if bad:
        raise ConfigError(
            f"Unknown scene factors {sorted(bad)}.", f"Known factors: {', '.join(FACTOR_NAMES)}."
        )
    replaced = {name: Factor.from_dict(value) for name, value in factors.items()}
    return dataclasses.replace(base, name=str(values.get("name", "custom")), **replaced)


def get_scenario(name: str, key: str = "scenario", files: bool = True) -> Scenario:
    """Returns a registered scenario, or one defined in a `.json` file.

    Args:
        name: a registered name, or (with `files`) a `.json` scenario file.
        key: the configuration key the name came from, for the error message.
        files: whether `.json` files are accepted.

    Raises:
        ConfigError: naming the key and the known scenarios, or what is wrong with the file.
    """
    if files and name.endswith(".json"):
        path = Path(name)
        if not path.exists():
            raise ConfigError(f"Scenario file {path} does not exist.", f"Check {key}.")
        try:
            values = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"Scenario file {path} is not valid JSON ({error}).") from None
        return scenario_from_dict(values)
    if name not in SCENARIOS:
        or_file = ", or a .json scenario file" if files else ""
        raise ConfigError(f"Unknown {key} {name!r}.", f"Choose one of: {', '.join(SCENARIOS)}{or_file}.")
    return SCENARIOS[name]
