"""`headsynth run`: the whole pipeline on a preset, with overrides, then a summary table."""

from __future__ import annotations

import argparse
import os

from headsynth.cli.arguments import add_beam_arg_option, add_config_arguments, resolve_config
from headsynth.core.logs import quiet_logging
from headsynth.core.progress import report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, "training.train_steps=500")
    parser.add_argument("--out", default=None, help="output folder (default: runs/<preset>)")
    add_beam_arg_option(parser)
    parser.add_argument("--show-config", action="store_true", help="print the resolved config and exit")


def command(args: argparse.Namespace) -> int:
    # Imported when the command runs: `headsynth --help` builds every parser and must not load TFX.
    from headsynth.components.rendering.rasterizer import require_rasterizer
    from headsynth.pipeline.local_runner import run_local

    config = resolve_config(args)
    if args.show_config:
        print(config.to_json())
        return 0
    require_rasterizer()  # fail before writing anything
    output_dir = args.out or os.path.join("runs", config.preset)
    quiet_logging()
    report("headsynth", f"running preset {config.preset!r} into {os.path.abspath(output_dir)}")
    summary = run_local(config, output_dir)
    print(f"\nheadsynth run ({config.preset}) finished\n")
    print(summary.table())
    print(f"\nTensorBoard: headsynth tensorboard {output_dir}")
    return 0
