"""The TFX Trainer's run function: settings and face model from the Trainer's inputs, then `train_regressor`.

The Trainer names `headsynth.components.training.trainer.run_fn` by import
path (no module file). The library behind it: `inputs` (tf.data), `model`
(network, schedule, optimizer, strategy), `fit` (`train_regressor`, which
can be called without TFX), `summaries` and `export`.
"""

from __future__ import annotations

import dataclasses
import os

from headsynth.components.training.fit import backup_dir_for, train_regressor
from headsynth.components.training.settings import TrainSettings
from headsynth.data_schemas.render_summary import rendered_framing, rendered_scale
from headsynth.morphable.model import load_npz


def examples_root(file_pattern: str) -> str:
    """The Examples artifact directory of a `.../Split-<name>/*` pattern."""
    return os.path.dirname(os.path.dirname(file_pattern))


def settings_from_fn_args(fn_args) -> TrainSettings:
    """`custom_config` as `TrainSettings`, with the Trainer's step counts and the examples' scale."""
    settings = TrainSettings.from_dict(fn_args.custom_config or {})
    settings = settings.replace(train_steps=fn_args.train_steps, eval_steps=fn_args.eval_steps)
    scale = rendered_scale(examples_root(fn_args.train_files[0]))
    return settings if scale is None else dataclasses.replace(settings, scale=scale)


def run_fn(fn_args) -> None:
    """TFX Trainer entry point (GenericExecutor); hyperparameters come from custom_config.

    The face model is `<examples>/face_model.npz`; the scale is the one the
    examples were rendered with (their `render.json`), so the exported mesh
    matches the renders whatever custom_config says. With a `backup_root` in
    custom_config, a killed run resumes from its last epoch's backup.
    """
    settings = settings_from_fn_args(fn_args)
    face_model = load_npz(os.path.join(examples_root(fn_args.train_files[0]), "face_model.npz"))
    backup_root = (fn_args.custom_config or {}).get("backup_root")
    train_files = list(fn_args.train_files)
    train_regressor(
        fn_args.train_files,
        fn_args.eval_files,
        face_model,
        settings,
        fn_args.serving_model_dir,
        fn_args.model_run_dir,
        backup_dir=backup_dir_for(backup_root, train_files, settings) if backup_root else None,
        framing=rendered_framing(examples_root(fn_args.train_files[0])),
    )
