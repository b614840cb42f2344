"""Compiles the pipeline for Kubeflow Pipelines / Vertex AI with TFX's Kubeflow V2 runner.

Every component runs in one container image (the project's `Dockerfile`),
which holds headsynth installed at `IMAGE_SOURCE_DIR`; components find their
code there by import path (the Trainer's `run_fn`, the `@component`
executors), so no module file is staged. The pipeline root and the Beam
arguments come from the configuration (`pipeline.pipeline_root`,
`rendering.beam_args`).

The schema ImportSchemaGen reads is named by its place in the image; any
other file on this machine named by the pipeline is refused, since the pods
cannot read it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from typing import Any

from headsynth.config import HeadsynthConfig
from headsynth.core.errors import ConfigError
from headsynth.data_schemas.features import SCHEMA_FILE
from headsynth.pipeline.pipeline import RunPaths, create_pipeline

# The Dockerfile copies the checkout here (WORKDIR) and installs it in editable mode.
IMAGE_SOURCE_DIR = "/headsynth"
IMAGE_PACKAGE_DIR = f"{IMAGE_SOURCE_DIR}/headsynth"
LOCAL_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Kubeflow Pipelines and Vertex AI accept these pipeline names.
PIPELINE_NAME_PATTERN = r"[a-z0-9][a-z0-9-]{0,127}"
# Outputs: .json is a PipelineJob (Vertex AI); .yaml/.yml is the PipelineSpec (Kubeflow Pipelines).
OUTPUT_SUFFIXES = (".json", ".yaml", ".yml")


def kubeflow_paths(config: HeadsynthConfig) -> RunPaths:
    """Where a Kubeflow run writes: everything under `pipeline.pipeline_root`.

    Raises:
        ConfigError: if no pipeline root is configured.
    """
    root = config.pipeline.pipeline_root.rstrip("/")
    if not root:
        raise ConfigError(
            "A Kubeflow pipeline needs pipeline.pipeline_root, a location every pod can reach.",
            "Add e.g. --set pipeline.pipeline_root=gs://my-bucket/headsynth.",
        )
    # Kubeflow keeps ML Metadata itself; `metadata` is unused.
    return RunPaths(
        root=root,
        pipeline_root=root,
        metadata="",
        serving=f"{root}/serving/{config.pipeline.model_name}",
    )


def check_image(image: str) -> str:
    """Returns the image reference, or raises ConfigError for an empty or malformed one."""
    image = image.strip()
    if not image or any(c.isspace() for c in image) or image.startswith(("-", "/")) or "://" in image:
        raise ConfigError(
            f"--image must name a container image, e.g. gcr.io/my-project/headsynth:0.1. Received: {image!r}.",
            "Build it from the project's Dockerfile and push it where the cluster can pull it.",
        )
    return image


def _image_path(value: str) -> str | None:
    """The in-image path of a file of this package, or None if `value` is not one."""
    local = os.path.realpath(value)
    package = os.path.realpath(LOCAL_PACKAGE_DIR)
    if local == package or local.startswith(package + os.sep):
        return IMAGE_PACKAGE_DIR + local[len(package) :].replace(os.sep, "/")
    return None


def _looks_like_local_file(value: str) -> bool:
    return "://" not in value and (os.sep in value or "." in value) and os.path.exists(value)


def _local_files(value: Any, where: str):
    """(where, value) for every string in `value` (JSON strings, dicts and lists searched too) naming a local file."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in "{[":
            try:
                yield from _local_files(json.loads(stripped), where)
                return
            except ValueError:
                pass
        if _looks_like_local_file(value) and not value.startswith(IMAGE_SOURCE_DIR + "/"):
            yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _local_files(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _local_files(item, where)


def refuse_local_files(pipeline) -> None:
    """Raises ConfigError for an execution property naming a file only this machine has.

    Raises:
        ConfigError: naming the property and the file.
    """
    for component in pipeline.components:
        for key, value in component.exec_properties.items():
            for where, path in _local_files(value, f"{component.id}.{key}"):
                raise ConfigError(
                    f"{where} names {path!r}, a file on this machine that the pipeline's pods cannot read.",
                    "Copy it into the image (Dockerfile) or onto a volume the pods mount, and name that path.",
                )


def build_kubeflow_pipeline(config: HeadsynthConfig):
    """The TFX pipeline for a Kubeflow run of `config` (paths as the pods see them)."""
    if not re.fullmatch(PIPELINE_NAME_PATTERN, config.pipeline.name):
        raise ConfigError(
            f"Kubeflow needs a pipeline name of lower-case letters, digits and '-'. "
            f"Received: pipeline.name={config.pipeline.name!r}.",
            "Set e.g. --set pipeline.name=headsynth.",
        )
    # Kubeflow provides ML Metadata; the schema is read from the image's copy of this package.
    pipeline = create_pipeline(
        config,
        kubeflow_paths(config),
        metadata_connection_config=None,
        schema_file=_image_path(str(SCHEMA_FILE)),
    )
    refuse_local_files(pipeline)
    return pipeline


def compile_kubeflow(config: HeadsynthConfig, image: str, output_path: str) -> dict[str, Any]:
    """Compiles `config` with TFX's Kubeflow V2 runner and writes it to `output_path`.

    Args:
        config: the resolved configuration (`pipeline.pipeline_root` must be set).
        image: the container image every component (and, through the Beam
            arguments, every Beam worker) runs in.
        output_path: `.json` writes the PipelineJob (Vertex AI Pipelines takes
            it as `template_path`); `.yaml`/`.yml` writes the PipelineSpec that
            Kubeflow Pipelines uploads. Written atomically.

    Returns:
        The PipelineJob as a dict (whatever the output format).

    Raises:
        ConfigError: for a missing pipeline root, a malformed image, an output
            of another type, or a pipeline that names a file on this machine.
    """
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

    image = check_image(image)
    if not output_path.endswith(OUTPUT_SUFFIXES):
        raise ConfigError(
            f"The compiled pipeline goes to a .json or .yaml file. Received: {output_path!r}.",
            "Use pipeline.json (Vertex AI) or pipeline.yaml (Kubeflow Pipelines).",
        )
    pipeline = build_kubeflow_pipeline(config)
    runner_config = kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(
        display_name=config.pipeline.name, default_image=image
    )
    output_path = os.path.abspath(output_path)
    directory, name = os.path.split(output_path)
    os.makedirs(directory, exist_ok=True)
    # Written beside the output and renamed, so a failure never leaves a partial file.
    with tempfile.TemporaryDirectory(dir=directory, prefix=".compile-") as staging:
        runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
            config=runner_config, output_dir=staging, output_filename=name
        )
        job = runner.run(pipeline, write_out=True)
        os.replace(os.path.join(staging, name), output_path)
    return job


def executor_args(job: dict[str, Any]) -> dict[str, list[str]]:
    """Container args per component of a compiled PipelineJob (`{"RenderExamples": [...], ...}`)."""
    executors = job["pipelineSpec"]["deploymentSpec"]["executors"]
    return {
        label.removesuffix("_executor"): list(spec["container"].get("args", []))
        for label, spec in executors.items()
    }
