"""The `headsynth` command line.

    headsynth run --preset quickstart [--out DIR] [--set section.key=value ...]
    headsynth model [--source builtin|PATH] [--grid PNG] [--sweep PNG] [--export-mesh PATH]
    headsynth tensorboard RUN_DIR

Every subcommand is a module of this package with `add_arguments(parser)`
and `command(args) -> int`, registered in `COMMANDS` by import path; the
arguments several commands share are in `arguments.py`. Nothing below the
command line imports from this package.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from headsynth.core.errors import HeadsynthError
from headsynth.core.logs import filtered_stderr, quiet_start

# name -> (module with add_arguments/command, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("headsynth.cli.run_command", "run the TFX pipeline locally (LocalDagRunner)"),
    "model": (
        "headsynth.cli.model_command",
        "inspect a morphable model: summary, renders, meshes",
    ),
    "tensorboard": ("headsynth.cli.tensorboard_command", "open TensorBoard on a run's logs"),
    "study": ("headsynth.cli.study_command", "train one net per scenario, evaluate each on every scenario"),
    "predict": (
        "headsynth.cli.predict_command",
        "reconstruct heads from photos: mesh, preview, identity",
    ),
    "fit": (
        "headsynth.cli.fit_command",
        "fit the morphable model to every face of photos (landmarks, colours) -> parameter file",
    ),
    "evaluate-photos": (
        "headsynth.cli.evaluate_photos_command",
        "reconstruct every face in real photos, score identity vs the mean face",
    ),
    "compile": ("headsynth.cli.compile_command", "compile the pipeline for Kubeflow (V2 pipeline file)"),
    "diversity": (
        "headsynth.cli.diversity_command",
        "diversity tables (thesis 6.3-6.5) of parameter files",
    ),
    "client": ("headsynth.cli.client_command", "send photos to TF Serving (REST, gRPC), write meshes"),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(prog="headsynth", description="Synthetic-head regression pipeline.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, (module_path, help_text) in COMMANDS.items():
        module = importlib.import_module(module_path)
        module.add_arguments(subparsers.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (2 for a user error, with one clear line)."""
    quiet_start()
    with filtered_stderr():  # a command module that imports TensorFlow early stays quiet too
        parser = build_parser()
    args = parser.parse_args(argv)
    with filtered_stderr():
        import tensorflow  # noqa: F401  (after `--help` has exited: its C++ start-up lines are filtered)
    try:
        return importlib.import_module(COMMANDS[args.command][0]).command(args) or 0
    except HeadsynthError as error:
        print(f"headsynth: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
