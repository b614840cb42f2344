"""Compiles the pipeline for Kubeflow Pipelines / Vertex AI with TFX's Kubeflow V2 runner.

Every component runs in one container image (the project's `Dockerfile`),
which holds headsynth installed at `IMAGE_SOURCE_DIR`; components find their
code there by import path (the Trainer's `run_fn`, the `@component`
executors), so no module file is staged. The pipeline root and the Beam
arguments come from the configuration (`pipeline.pipeline_root`,
`rendering.beam_args`).

Files of this package named by absolute path in the pipeline (the schema of
ImportSchemaGen) are rewritten to their place in the image; any other file on
this machine named by the pipeline is refused, since the pods cannot read it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from typing import Any

from headsynth.config import HeadsynthConfig
from headsynth.errors import ConfigError
from headsynth.pipeline.pipeline import RunPaths

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


def _relocate(value: Any, where: str) -> Any:
    """Rewrites this package's files to their image paths; refuses other local files (recursively)."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in "{[":
            try:
                decoded = json.loads(stripped)
            except ValueError:
                decoded = None
            if isinstance(decoded, dict | list):
                relocated = _relocate(decoded, where)
                return value if relocated == decoded else json.dumps(relocated, sort_keys=True)
        if not _looks_like_local_file(value):
            return value
        in_image = _image_path(value)
        if in_image is None:
            raise ConfigError(
                f"{where} names {value!r}, a file on this machine that the pipeline's pods cannot read.",
                "Copy it into the image (Dockerfile) or onto a volume the pods mount, and name that path.",
            )
        return in_image
    if isinstance(value, dict):
        return {key: _relocate(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_relocate(item, where) for item in value)
    return value


def relocate_local_files(pipeline) -> None:
    """Points every execution property that names a file of this package at the image's copy."""
    for component in pipeline.components:
        properties = component.exec_properties
        for key in list(properties):
            properties[key] = _relocate(properties[key], f"{component.id}.{key}")


def build_kubeflow_pipeline(config: HeadsynthConfig):
    """The TFX pipeline for a Kubeflow run of `config` (paths as the pods see them)."""
    from headsynth.pipeline.pipeline import create_pipeline

    if not re.fullmatch(PIPELINE_NAME_PATTERN, config.pipeline.name):
        raise ConfigError(
            f"Kubeflow needs a pipeline name of lower-case letters, digits and '-'. "
            f"Received: pipeline.name={config.pipeline.name!r}.",
            "Set e.g. --set pipeline.name=headsynth.",
        )
    pipeline = create_pipeline(config, kubeflow_paths(config))
    pipeline.metadata_connection_config = None  # Kubeflow provides ML Metadata
    relocate_local_files(pipeline)
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
