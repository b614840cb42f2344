"""`headsynth compile --target kubeflow`: the README's commands give pipeline files the kfp package loads.

Each compiled file must name every component of `create_pipeline`, the image
on every executor, the pipeline root, and the configuration's Beam arguments
(verbatim, in order) on every executor; it is checked with kfp's own loader
and parsed strictly into kfp-pipeline-spec's `PipelineJob` message.
"""

from __future__ import annotations

import json
import os

import pytest
import yaml
from conftest import PIPELINE_COMPONENTS
from test_readme import headsynth_argv, readme_command

from headsynth.cli.main import main

IMAGE = "gcr.io/my-project/headsynth:0.1"
COMPONENTS = PIPELINE_COMPONENTS
EXECUTOR_MODULE = "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"


def compile_readme_command(prefix: str, out_path) -> tuple[list[str], dict]:
    """Runs the README's compile command (output redirected to `out_path`); returns (argv, PipelineJob dict)."""
    argv = headsynth_argv(readme_command(prefix, "--out pipeline.json"))
    argv[argv.index("--out") + 1] = str(out_path)
    assert main(argv) == 0
    return argv, json.loads(out_path.read_text())


def resolved(argv):
    from headsynth.cli.arguments import resolve_config
    from headsynth.cli.main import build_parser

    return resolve_config(build_parser().parse_args(argv))


def task_parameter(job: dict, task: str, name: str):
    value = job["pipelineSpec"]["root"]["dag"]["tasks"][task]["inputs"]["parameters"][name]
    return next(iter(value["runtimeValue"]["constantValue"].values()))


@pytest.mark.parametrize("preset", ["quickstart", "paper"])
def test_readme_compile_commands_name_every_component_image_and_beam_arg(tmp_path, capsys, preset):
    import kfp.components
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2
    from tfx.utils import import_utils

    from headsynth.pipeline.kubeflow_runner import executor_args, kubeflow_paths
    from headsynth.pipeline.pipeline import RUN_FN, create_pipeline

    out = tmp_path / "pipeline.json"
    argv, job = compile_readme_command(
        f".venv/bin/headsynth compile --target kubeflow --preset {preset} ", out
    )
    config = resolved(argv)
    assert config.preset == preset
    printed = capsys.readouterr().out
    assert IMAGE in printed and config.pipeline.pipeline_root in printed

    # kfp's own loader and a strict parse into the pipeline-spec messages.
    job_message = json_format.ParseDict(job, pipeline_spec_pb2.PipelineJob(), ignore_unknown_fields=False)
    assert job_message.pipeline_spec["pipelineInfo"]["name"] == config.pipeline.name
    loaded = kfp.components.load_component_from_text(yaml.safe_dump(job["pipelineSpec"]))
    assert loaded.name == config.pipeline.name
    assert set(loaded.pipeline_spec.root.dag.tasks) == COMPONENTS

    # Every component, as create_pipeline builds them.
    expected = {c.id for c in create_pipeline(config, kubeflow_paths(config)).components}
    assert expected == COMPONENTS
    spec = job["pipelineSpec"]
    assert set(spec["root"]["dag"]["tasks"]) == COMPONENTS
    assert set(spec["components"]) == COMPONENTS
    args = executor_args(job)
    assert set(args) == COMPONENTS

    # The image, its code by import path, and the Beam arguments on every executor.
    beam_args = list(config.rendering.beam_args)
    if preset == "paper":
        assert "--runner=DataflowRunner" in beam_args and f"--sdk_container_image={IMAGE}" in beam_args
    for label, executor in spec["deploymentSpec"]["executors"].items():
        container = executor["container"]
        assert container["image"] == IMAGE, label
        assert container["command"] == ["python", "-m", EXECUTOR_MODULE], label
        component_args = container["args"]
        assert component_args[-len(beam_args) :] == beam_args, label
        class_path = component_args[component_args.index("--executor_class_path") + 1]
        assert import_utils.import_class_by_path(class_path), class_path
    assert task_parameter(job, "Trainer", "run_fn") == RUN_FN
    assert "module_file" not in json.dumps(job) and "module_path" not in json.dumps(job)

    # Pipeline root, Pusher destination, render settings from the config.
    root = config.pipeline.pipeline_root
    assert job["runtimeConfig"]["gcsOutputDirectory"] == root
    destination = json.loads(task_parameter(job, "Pusher", "push_destination"))
    assert destination["filesystem"]["base_directory"] == f"{root}/serving/{config.pipeline.model_name}"
    assert int(task_parameter(job, "RenderExamples", "image_size")) == config.rendering.image_size
    assert int(task_parameter(job, "SampleParameters", "num_train")) == config.sampling.num_train

    # No file of this machine: the schema is the image's copy.
    assert task_parameter(job, "ImportSchemaGen", "schema_file") == (
        "/headsynth/headsynth/data_schemas/schema.pbtxt"
    )
    checkout = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if checkout != "/headsynth":  # inside the image the checkout is the image's copy
        assert checkout not in out.read_text()


def test_readme_yaml_output_loads_with_kfp(tmp_path):
    import kfp.components

    out = tmp_path / "pipeline.yaml"
    command = readme_command(
        ".venv/bin/headsynth compile --target kubeflow --preset quickstart ", "pipeline.yaml"
    )
    argv = headsynth_argv(command)
    argv[argv.index("--out") + 1] = str(out)
    assert main(argv) == 0
    text = out.read_text()
    assert text.startswith("# PIPELINE DEFINITION")
    loaded = kfp.components.load_component_from_file(str(out))
    assert set(loaded.pipeline_spec.root.dag.tasks) == COMPONENTS
    executors = yaml.safe_load(text)["deploymentSpec"]["executors"]
    images = {executor["container"]["image"] for executor in executors.values()}
    assert images == {IMAGE}
    assert not list(tmp_path.glob(".compile-*"))  # the staging folder is gone


@pytest.mark.parametrize(
    "extra, fragment",
    [
        ([], "needs pipeline.pipeline_root"),
        (["--set", "pipeline.pipeline_root=relative/path"], "must be a URI"),
        (["--set", "pipeline.pipeline_root=gs://b/h", "--set", "pipeline.name=Head Synth"], "pipeline name"),
        (["--set", "pipeline.pipeline_root=gs://b/h", "--out", "pipeline.txt"], ".json or .yaml"),
    ],
)
def test_compile_user_errors_are_one_line_and_write_nothing(tmp_path, capsys, monkeypatch, extra, fragment):
    monkeypatch.chdir(tmp_path)
    argv = ["compile", "--target", "kubeflow", "--preset", "ci", "--image", IMAGE, *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and len(err.splitlines()) == 1 and err.startswith("headsynth: error:")
    assert not list(tmp_path.iterdir())


def test_compile_refuses_an_image_that_is_no_image(tmp_path, capsys):
    argv = [
        "compile",
        "--target",
        "kubeflow",
        "--preset",
        "ci",
        "--image",
        "https://example.com/x",
        "--set",
        "pipeline.pipeline_root=gs://b/h",
        "--out",
        str(tmp_path / "p.json"),
    ]
    assert main(argv) == 2
    assert "--image must name a container image" in capsys.readouterr().err
    assert not (tmp_path / "p.json").exists()


def test_compile_refuses_a_file_only_this_machine_has(tmp_path, capsys, small_model):
    model_file = tmp_path / "model.npz"
    small_model.save_npz(model_file)
    out = tmp_path / "p.json"
    argv = [
        "compile",
        "--target",
        "kubeflow",
        "--preset",
        "ci",
        "--image",
        IMAGE,
        "--set",
        "pipeline.pipeline_root=gs://b/h",
        "--set",
        f"face_model.source={model_file}",
        "--out",
        str(out),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert str(model_file) in err and "pods cannot read" in err
    assert not out.exists()


def test_custom_artifact_types_import_by_their_type_name():
    """A pod's executor entry point finds each custom artifact class by its TYPE_NAME (the schema title)."""
    from tfx.utils import import_utils

    from headsynth.components.generative.artifact import GenerativeModel
    from headsynth.data_schemas.artifacts import Evaluation, FaceModel, Parameters

    for artifact_type in (FaceModel, Parameters, Evaluation, GenerativeModel):
        assert import_utils.import_class_by_path(artifact_type.TYPE_NAME) is artifact_type


def test_a_local_run_with_a_bucket_root_keeps_only_metadata_on_this_machine(tmp_path):
    from headsynth.pipeline.pipeline import RunPaths

    paths = RunPaths.under(tmp_path / "run", "headsynth", "gs://my-bucket/headsynth/")
    assert paths.pipeline_root == "gs://my-bucket/headsynth"
    assert paths.serving == "gs://my-bucket/headsynth/serving/headsynth"
    assert paths.metadata == str(tmp_path / "run" / "metadata.sqlite") and paths.root == str(tmp_path / "run")
    assert RunPaths.under(tmp_path / "run", "headsynth").pipeline_root == str(
        tmp_path / "run" / "pipeline_root"
    )
