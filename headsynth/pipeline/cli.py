"""The `headsynth` command line.

headsynth run --preset quickstart [--out DIR] [--set section.key=value ...]
headsynth model [--source builtin|PATH] [--grid PNG] [--sweep PNG] [--export-mesh PATH]
headsynth tensorboard RUN_DIR
"""

from __future__ import annotations

import argparse
import os
import sys

# Quiet TensorFlow's C++ start-up chatter before anything imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="headsynth", description="Synthetic-head regression pipeline.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the TFX pipeline locally (LocalDagRunner)")
    run.add_argument("--preset", default="quickstart", help="ci, quickstart or paper (default: quickstart)")
    run.add_argument("--out", default=None, help="output folder (default: runs/<preset>)")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set training.train_steps=500 (repeatable)",
    )
    run.add_argument("--show-config", action="store_true", help="print the resolved config and exit")

    model = commands.add_parser("model", help="inspect a morphable model: summary, renders, mesh export")
    try:
        from headsynth.components.face_model.inspect_model import add_model_arguments

        add_model_arguments(model)
    except ImportError:
        model.add_argument("--source", default="builtin")

    board = commands.add_parser(
        "tensorboard", help="open TensorBoard on a run's training and evaluation logs"
    )
    board.add_argument("run_dir")
    board.add_argument("--port", type=int, default=6006)
    return parser


def _run(args: argparse.Namespace) -> int:
    from headsynth.config import apply_overrides, get_preset

    config = apply_overrides(get_preset(args.preset), args.overrides)
    if args.show_config:
        print(config.to_json())
        return 0
    from headsynth.components.rendering.rasterizer import require_rasterizer

    require_rasterizer()  # fail before writing anything
    output_dir = args.out or os.path.join("runs", config.preset)
    _quiet_logging()
    from headsynth.pipeline.local_runner import run_local
    from headsynth.progress import report

    report("headsynth", f"running preset {config.preset!r} into {os.path.abspath(output_dir)}")
    summary = run_local(config, output_dir)
    print(f"\nheadsynth run ({config.preset}) finished\n")
    print(summary.table())
    print(f"\nTensorBoard: headsynth tensorboard {output_dir}")
    return 0


def _quiet_logging() -> None:
    import logging

    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)
    for name in ("apache_beam", "tensorflow", "tfx", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _tensorboard(args: argparse.Namespace) -> int:
    from headsynth.errors import ConfigError

    if not os.path.isdir(args.run_dir):
        raise ConfigError(
            f"Run folder {args.run_dir} does not exist.", "Pass the --out folder of a headsynth run."
        )
    logdir = os.path.join(args.run_dir, "pipeline_root")
    os.execvp(
        sys.executable,
        [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir",
            logdir if os.path.isdir(logdir) else args.run_dir,
            "--port",
            str(args.port),
        ],
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (2 for a user error, with one clear line)."""
    from headsynth.errors import HeadsynthError

    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "model":
            from headsynth.components.face_model.inspect_model import model_command

            return model_command(args) or 0
        if args.command == "tensorboard":
            return _tensorboard(args)
    except HeadsynthError as error:
        print(f"headsynth: error: {error}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
