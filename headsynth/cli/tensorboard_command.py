"""`headsynth tensorboard RUN_DIR`: TensorBoard on a run's training and evaluation logs."""

from __future__ import annotations

import argparse
import os
import sys

from headsynth.core.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="the --out folder of a headsynth run")
    parser.add_argument("--port", type=int, default=6006)


def tensorboard_argv(run_dir: str, port: int) -> list[str]:
    """The TensorBoard command line for a run folder."""
    if not os.path.isdir(run_dir):
        raise ConfigError(
            f"Run folder {run_dir} does not exist.", "Pass the --out folder of a headsynth run."
        )
    logdir = os.path.join(run_dir, "pipeline_root")
    logdir = logdir if os.path.isdir(logdir) else run_dir
    return [sys.executable, "-m", "tensorboard.main", "--logdir", logdir, "--port", str(port)]


def command(args: argparse.Namespace) -> int:
    argv = tensorboard_argv(args.run_dir, args.port)
    os.execv(argv[0], argv)
    return 0
