"""`headsynth run`: the whole pipeline on a preset, with overrides, then a summary table."""

from __future__ import annotations

import argparse
import logging
import os


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, "training.train_steps=500")
    parser.add_argument("--out", default=None, help="output folder (default: runs/<preset>)")
    add_beam_arg_option(parser)
    parser.add_argument("--show-config", action="store_true", help="print the resolved config and exit")


def add_config_arguments(parser: argparse.ArgumentParser, override_example: str) -> None:
    """`--preset NAME` and `--set KEY=VALUE` (repeatable): the config every command starts from."""
    parser.add_argument(
        "--preset", default="quickstart", help="ci, quickstart, paper or thesis (default: quickstart)"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override a config value, e.g. --set {override_example} (repeatable)",
    )


def add_beam_arg_option(parser: argparse.ArgumentParser) -> None:
    """`--beam-arg ARG` (repeatable): Beam pipeline options passed through unchanged."""
    parser.add_argument(
        "--beam-arg",
        dest="beam_args",
        action="append",
        default=[],
        metavar="ARG",
        help="a Beam pipeline option, passed through unchanged after the preset's rendering.beam_args "
        "(later ones win); repeatable; write it with '=': --beam-arg=--runner=FlinkRunner",
    )


def with_beam_args(config, beam_args: list[str] | tuple[str, ...]):
    """Returns `config` with `beam_args` appended to `rendering.beam_args`, unchanged and in order."""
    import dataclasses

    if not beam_args:
        return config
    rendering = dataclasses.replace(config.rendering, beam_args=(*config.rendering.beam_args, *beam_args))
    return dataclasses.replace(config, rendering=rendering)


def resolve_config(args: argparse.Namespace):
    """The preset with `--set` overrides and `--beam-arg` options applied (validated)."""
    from headsynth.config import apply_overrides, get_preset

    config = apply_overrides(get_preset(args.preset), args.overrides)
    return with_beam_args(config, getattr(args, "beam_args", []))


def command(args: argparse.Namespace) -> int:
    config = resolve_config(args)
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
