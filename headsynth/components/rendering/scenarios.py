"""Scenarios: named distributions over every scene factor.

A scenario gives each factor (yaw, pitch, roll, focal length, translation,
light, background, ...) its own distribution, so users can define new ones.
The four of the paper are registered in `SCENARIOS`:

- none:     fixed ~45 degree yaw, solid gray background.
- angle:    yaw uniform in +-90 degrees, same background.
- angle_bg: like angle, over randomly scaled and placed crops of photographs.
- all:      plus random light colour and intensity, focal length, and
            translation in the image plane and in depth.

Every example's factors are drawn from a generator seeded by
(seed, split, index), so they do not depend on batching or workers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from headsynth.errors import ConfigError

SPLITS = ("train", "eval")


@dataclass(frozen=True)
class Factor:
    """The distribution of one scalar scene factor.

    Attributes:
        kind: "constant" (value a), "uniform" (a..b), "normal" (mean a, std b),
            or "bernoulli" (1 with probability a, else 0).
        a: first parameter.
        b: second parameter.
    """

    kind: str = "constant"
    a: float = 0.0
    b: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("constant", "uniform", "normal", "bernoulli"):
            raise ConfigError(
                f"Unknown factor kind {self.kind!r}.", "Use constant, uniform, normal or bernoulli."
            )
        if self.kind == "uniform" and self.b < self.a:
            raise ConfigError(f"Uniform factor needs a <= b. Received: a={self.a}, b={self.b}.")
        if self.kind == "normal" and self.b < 0:
            raise ConfigError(f"Normal factor needs std b >= 0. Received: {self.b}.")
        if self.kind == "bernoulli" and not 0 <= self.a <= 1:
            raise ConfigError(f"Bernoulli factor needs 0 <= a <= 1. Received: {self.a}.")

    def sample(self, rng: np.random.Generator) -> float:
        """Draws one value (always consumes exactly one uniform and one normal)."""
        u, n = rng.uniform(), rng.normal()
        if self.kind == "constant":
            return float(self.a)
        if self.kind == "uniform":
            return float(self.a + (self.b - self.a) * u)
        if self.kind == "normal":
            return float(self.a + self.b * n)
        return float(u < self.a)

    def bounds(self) -> tuple[float, float]:
        """The range the factor can take (normal: +-inf unless std is 0)."""
        if self.kind == "constant":
            return (self.a, self.a)
        if self.kind == "uniform":
            return (self.a, self.b)
        if self.kind == "bernoulli":
            return (0.0, 1.0)
        return (self.a, self.a) if self.b == 0 else (-np.inf, np.inf)


def const(value: float) -> Factor:
    return Factor("constant", value)


def uniform(low: float, high: float) -> Factor:
    return Factor("uniform", low, high)


# The order of factor names fixes the order of draws: never reorder, only append.
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
)


@dataclass(frozen=True)
class Scenario:
    """Distributions of every scene factor.

    Angles are in degrees (yaw turns the head left/right, positive = the head
    turns to its left). focal_mm is the 35 mm-equivalent focal length;
    distance_mm the camera-to-head distance; shift_x/shift_y translate the head
    in the image plane as a fraction of the half-frame. background is 1 for a
    photograph and 0 for the solid gray; bg_pick picks the photograph and
    bg_scale/bg_x/bg_y place the crop.
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

    def sample(self, seed: int, split: str, index: int) -> dict[str, float]:
        """Draws every factor of one example from its (seed, split, index) generator."""
        rng = example_rng(seed, split, index, stream=1)
        return {name: getattr(self, name).sample(rng) for name in FACTOR_NAMES}

    def uses_photographs(self) -> bool:
        return self.background.kind != "constant" or self.background.a > 0


def example_rng(seed: int, split: str, index: int, stream: int) -> np.random.Generator:
    """A generator that depends only on (seed, split, index, stream)."""
    if split not in SPLITS:
        raise ConfigError(f"Unknown split {split!r}.", f"Use one of {SPLITS}.")
    return np.random.default_rng([seed, SPLITS.index(split), index, stream])


_NONE = Scenario(name="none")
_ANGLE = dataclasses.replace(_NONE, name="angle", yaw_deg=uniform(-90.0, 90.0))
_ANGLE_BG = dataclasses.replace(_ANGLE, name="angle_bg", background=const(1.0))
_ALL = dataclasses.replace(
    _ANGLE_BG,
    name="all",
    pitch_deg=uniform(-15.0, 15.0),
    roll_deg=uniform(-10.0, 10.0),
    focal_mm=uniform(40.0, 70.0),
    distance_mm=uniform(420.0, 620.0),
    shift_x=uniform(-0.25, 0.25),
    shift_y=uniform(-0.2, 0.2),
    light_azimuth_deg=uniform(-70.0, 70.0),
    light_elevation_deg=uniform(-10.0, 60.0),
    light_intensity=uniform(0.5, 1.5),
    light_r=uniform(0.7, 1.0),
    light_g=uniform(0.7, 1.0),
    light_b=uniform(0.7, 1.0),
    ambient=uniform(0.2, 0.5),
)

SCENARIOS: dict[str, Scenario] = {s.name: s for s in (_NONE, _ANGLE, _ANGLE_BG, _ALL)}


def get_scenario(name: str) -> Scenario:
    """Returns a registered scenario.

    Raises:
        ConfigError: naming the known scenarios.
    """
    if name not in SCENARIOS:
        raise ConfigError(f"Unknown scenario {name!r}.", f"Choose one of: {', '.join(SCENARIOS)}.")
    return SCENARIOS[name]
