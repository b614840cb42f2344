"""`headsynth compile --target kubeflow`: the pipeline as a Kubeflow V2 pipeline file.

    headsynth compile --target kubeflow --preset quickstart --image gcr.io/my-project/headsynth:0.1 \\
        --set pipeline.pipeline_root=gs://my-bucket/headsynth [--beam-arg=--runner=DataflowRunner ...] \\
        [--out pipeline.json]
"""

from __future__ import annotations

import argparse

from headsynth.cli.arguments import add_beam_arg_option, add_config_arguments, resolve_config
from headsynth.core.logs import quiet_logging

TARGETS = ("kubeflow",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", required=True, choices=TARGETS, help="the orchestrator to compile for")
    add_config_arguments(parser, "pipeline.pipeline_root=gs://my-bucket/headsynth")
    parser.add_argument(
        "--image",
        required=True,
        help="the container image built from the project's Dockerfile, as the cluster pulls it",
    )
    add_beam_arg_option(parser)
    parser.add_argument(
        "--out",
        default="pipeline.json",
        help="pipeline.json: PipelineJob for Vertex AI; pipeline.yaml: PipelineSpec for Kubeflow "
        "Pipelines (default: pipeline.json)",
    )


def command(args: argparse.Namespace) -> int:
    # Imported when the command runs: `headsynth --help` builds every parser and must not load TFX.
    from headsynth.pipeline.kubeflow_runner import (
        check_image,
        compile_kubeflow,
        executor_args,
        kubeflow_paths,
    )

    config = resolve_config(args)
    check_image(args.image)  # fail before importing TFX
    kubeflow_paths(config)
    quiet_logging()
    job = compile_kubeflow(config, args.image, args.out)
    components = sorted(executor_args(job))
    print(f"compiled preset {config.preset!r} for Kubeflow V2: {args.out}")
    print(f"  components     {', '.join(components)}")
    print(f"  image          {args.image}")
    print(f"  pipeline root  {config.pipeline.pipeline_root}")
    print(f"  serving        {kubeflow_paths(config).serving}")
    print(f"  beam args      {' '.join(config.rendering.beam_args)}")
    return 0
