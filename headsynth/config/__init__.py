"""One frozen configuration tree with named presets (imports only `headsynth.core`).

Everything a run does is decided by a `HeadsynthConfig` (`schema.py`).
Presets are plain factory functions registered in `PRESETS` (`presets.py`);
the command line picks one and applies `--set section.key=value` overrides
with `apply_overrides` (`overrides.py`).
"""

from headsynth.config.overrides import apply_overrides, validate
from headsynth.config.presets import PRESETS, get_preset
from headsynth.config.schema import (
    EvaluationConfig,
    FaceModelConfig,
    GenerativeConfig,
    HeadsynthConfig,
    PipelineConfig,
    RenderConfig,
    SamplingConfig,
    TrainingConfig,
    VariabilityConfig,
)

__all__ = [
    "PRESETS",
    "EvaluationConfig",
    "FaceModelConfig",
    "GenerativeConfig",
    "HeadsynthConfig",
    "PipelineConfig",
    "RenderConfig",
    "SamplingConfig",
    "TrainingConfig",
    "VariabilityConfig",
    "apply_overrides",
    "get_preset",
    "validate",
]
