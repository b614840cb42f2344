"""Arguments every config-driven command shares: `--preset`, `--set`, `--beam-arg`, and resolving them."""

from __future__ import annotations

import argparse
import dataclasses

from headsynth.config import HeadsynthConfig, apply_overrides, get_preset


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


def with_beam_args(config: HeadsynthConfig, beam_args: list[str] | tuple[str, ...]) -> HeadsynthConfig:
    """Returns `config` with `beam_args` appended to `rendering.beam_args`, unchanged and in order."""
    if not beam_args:
        return config
    rendering = dataclasses.replace(config.rendering, beam_args=(*config.rendering.beam_args, *beam_args))
    return dataclasses.replace(config, rendering=rendering)


def resolve_config(args: argparse.Namespace) -> HeadsynthConfig:
    """The preset with `--set` overrides and `--beam-arg` options applied, every value and name checked.

    Raises:
        ConfigError: for an unknown preset, key or name, an ill-typed value, or
            Beam options that choose the Dask runner badly (`beam_runners.check_beam_args`).
    """
    # Imported when a command runs, not when the parser is built: `headsynth --help`
    # stays fast without loading TensorFlow and TFX.
    from headsynth.components.rendering.beam_runners import check_beam_args
    from headsynth.wiring import check_names

    config = apply_overrides(get_preset(args.preset), args.overrides)
    config = check_names(with_beam_args(config, getattr(args, "beam_args", [])))
    check_beam_args(config.rendering.beam_args)
    return config
