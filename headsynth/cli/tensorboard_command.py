"""`headsynth tensorboard RUN_DIR`: TensorBoard on a run's training and evaluation logs."""

from __future__ import annotations

import argparse
import json
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
    logdir = logdir if os.path.isdir(logdir) else bucket_root(run_dir) or run_dir
    return [sys.executable, "-m", "tensorboard.main", "--logdir", logdir, "--port", str(port)]


def bucket_root(run_dir: str) -> str:
    """The pipeline root a run kept its artifacts in (e.g. gs://bucket/headsynth), from its config.json; "" if none."""
    path = os.path.join(run_dir, "config.json")
    if not os.path.isfile(path):
        return ""
    with open(path) as f:
        return json.load(f).get("pipeline", {}).get("pipeline_root", "")


def command(args: argparse.Namespace) -> int:
    argv = tensorboard_argv(args.run_dir, args.port)
    os.execv(argv[0], argv)
    return 0
