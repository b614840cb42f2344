"""`headsynth run`: the whole pipeline on a preset, with overrides, then a summary table."""

from __future__ import annotations

import argparse
import logging
import os


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preset", default="quickstart", help="ci, quickstart or paper (default: quickstart)"
    )
    parser.add_argument("--out", default=None, help="output folder (default: runs/<preset>)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set training.train_steps=500 (repeatable)",
    )
    parser.add_argument("--show-config", action="store_true", help="print the resolved config and exit")


def command(args: argparse.Namespace) -> int:
    from headsynth.config import apply_overrides, get_preset

    config = apply_overrides(get_preset(args.preset), args.overrides)
    if args.show_config:
        print(config.to_json())
        return 0
    from headsynth.components.rendering.rasterizer import require_rasterizer

    require_rasterizer()  # fail before writing anything
    output_dir = args.out or os.path.join("runs", config.preset)
    quiet_logging()
    from headsynth.pipeline.local_runner import run_local
    from headsynth.progress import report

    report("headsynth", f"running preset {config.preset!r} into {os.path.abspath(output_dir)}")
    summary = run_local(config, output_dir)
    print(f"\nheadsynth run ({config.preset}) finished\n")
    print(summary.table())
    print(f"\nTensorBoard: headsynth tensorboard {output_dir}")
    return 0


def quiet_logging() -> None:
    """Keeps TFX/Beam/TF INFO chatter out of the way of the progress lines."""
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.ERROR)
    logging.getLogger().setLevel(logging.WARNING)
    for name in ("apache_beam", "tensorflow", "tfx", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)
