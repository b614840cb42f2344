"""Error types: every failure a user can cause says what was wrong and what to do."""

from __future__ import annotations


class HeadsynthError(Exception):
    """Base class for errors caused by input or environment, not by a bug.

    Args:
        problem: what was wrong, naming the offending input.
        fix: what the user should do about it.
    """

    def __init__(self, problem: str, fix: str = "") -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem} {fix}".strip())


class ConfigError(HeadsynthError):
    """An unknown preset, an unknown `--set` key, or an ill-typed value."""


class ModelFileError(HeadsynthError):
    """A morphable model file that is missing, corrupt or inconsistent."""


class ParameterError(HeadsynthError):
    """Parameter vectors with the wrong width, NaNs, or out of range."""


class RasterizerUnavailable(HeadsynthError):
    """The tensorflow-graphics CPU rasteriser op is not built or does not load."""


class DataError(HeadsynthError):
    """Rendered examples or other pipeline data that cannot be read."""
