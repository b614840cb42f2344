"""What one training run needs: the config's training section plus what the data fixes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from headsynth.config import RenderConfig, SamplingConfig, TrainingConfig


@dataclass(frozen=True)
class TrainSettings:
    """The Trainer's settings (its TFX `custom_config`, as `to_dict()`).

    Attributes:
        training: the configuration's training section.
        image_size: input side in pixels (the rendered images').
        scale: p = scale * sigma * q the examples were rendered with; used
            for the exported mesh and the TensorBoard renders. `run_fn` reads
            it from the examples' `render.json`.
        output_scale: the factor on the head's output (q = output_scale *
            tanh(...) for the "mlp" head), resolved from the sampler's spec by
            `headsynth.wiring.train_settings`; the model records it, so its
            predictions and the SavedModel's are in q's units.
    """

    training: TrainingConfig = field(default_factory=TrainingConfig)
    image_size: int = RenderConfig.image_size
    scale: float = SamplingConfig.scale
    output_scale: float = 1.0

    def to_dict(self) -> dict:
        """Plain JSON-ready values (TFX passes `custom_config` as JSON)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainSettings:
        """The inverse of `to_dict`; keys it does not know (TFX's own) are ignored."""
        training = dict(values.get("training", {}))
        for name, value in training.items():
            if isinstance(value, list):  # JSON has no tuples
                training[name] = tuple(value)
        known = {k: v for k, v in values.items() if k in ("image_size", "scale", "output_scale")}
        return cls(training=TrainingConfig(**training), **known)

    def flat_dict(self) -> dict:
        """The training fields, then `image_size`, `scale` and `output_scale`, in one level
        (`output_scale` is the resolved factor, where the training section may say 0: derived).

        The names the HParams dashboard shows, and the key of a run's backup
        folder (so a backup is found again whatever the nesting).
        """
        return {
            **dataclasses.asdict(self.training),
            "image_size": self.image_size,
            "scale": self.scale,
            "output_scale": self.output_scale,
        }

    def replace(self, **training_changes) -> TrainSettings:
        """A copy with some training fields changed."""
        return dataclasses.replace(self, training=dataclasses.replace(self.training, **training_changes))
