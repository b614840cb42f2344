"""A bucket as pipeline root, for real: the pipeline and compiled Kubeflow steps against a GCS emulator.

The emulator (fake-gcs-server, from PyPI) and the proxy that TensorFlow's GCS
client reaches it through run on localhost for the session
(`gcs_emulator.py`). The README's bucket run (`headsynth run --preset ci`
with `pipeline.pipeline_root=gs://my-bucket/headsynth`) and the same preset
run locally go side by side in two processes; the tests then read the
bucket, ML Metadata and both pushed models. Compiled Kubeflow steps run the
way a pod runs them: the container command of `headsynth compile`'s
PipelineJob with the executor input the Kubeflow V2 launcher fills in.
"""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import PIPELINE_COMPONENTS
from gcs_emulator import GcsEmulator
from test_readme import headsynth_argv, readme_command

pytestmark = pytest.mark.gcs_emulator

REPO = Path(__file__).resolve().parents[2]
BUCKET = "my-bucket"  # the README's; the emulator's bucket is named the same
ROOT = f"gs://{BUCKET}/headsynth"
RUN_TIMEOUT_S = 900  # each ci run takes 1-3 minutes on 2 busy cores
STEP_TIMEOUT_S = 300
IMAGE = "gcr.io/my-project/headsynth:0.1"
# Artifacts whose bytes do not depend on where they are written.
SAME_BYTES = ("FaceModel/*/model.npz", "SampleParameters/*/parameters.npz", "RenderExamples/*/Split-*/*.gz")


@pytest.fixture(scope="session")
def gcs(tmp_path_factory):
    """The emulator, with the README's bucket."""
    with GcsEmulator(tmp_path_factory.mktemp("gcs")) as emulator:
        emulator.create_bucket(BUCKET)
        yield emulator


def headsynth_process(argv: list[str], env: dict[str, str], log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "headsynth.cli.main", *argv],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


@pytest.fixture(scope="module")
def runs(gcs, tmp_path_factory) -> tuple[Path, Path]:
    """The README's bucket run and a local run of the same preset, in parallel: their --out folders."""
    out = tmp_path_factory.mktemp("runs")
    bucket_argv = headsynth_argv(readme_command(".venv/bin/headsynth run --preset ci --out runs/ci-bucket"))
    bucket_argv[bucket_argv.index("--out") + 1] = str(out / "bucket")
    local_argv = ["run", "--preset", "ci", "--out", str(out / "local")]
    with open(out / "bucket.log", "wb") as bucket_log, open(out / "local.log", "wb") as local_log:
        processes = {
            "bucket": headsynth_process(bucket_argv, {**os.environ, **gcs.env()}, bucket_log),
            "local": headsynth_process(local_argv, dict(os.environ), local_log),
        }
        try:
            codes = {name: process.wait(timeout=RUN_TIMEOUT_S) for name, process in processes.items()}
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.kill()
                    process.wait()
    for name, code in codes.items():
        assert code == 0, f"{name} run failed:\n" + (out / f"{name}.log").read_text()[-4000:]
    return out / "bucket", out / "local"


def executions_by_node(metadata_path: Path) -> tuple:
    """(the ML Metadata store, node id -> its executions)."""
    from ml_metadata import metadata_store
    from tfx.orchestration import metadata

    store = metadata_store.MetadataStore(metadata.sqlite_metadata_connection_config(str(metadata_path)))
    found = {}
    for execution in store.get_executions():
        node = execution.custom_properties["__tfx_node_id__"].string_value
        node = node or store.get_execution_types_by_id([execution.type_id])[0].name.split(".")[-1]
        found.setdefault(node, []).append(execution)
    return store, found


def artifact_files(names: list[str]) -> dict[str, str]:
    """'<Component>/<key>/<execution id>/<file>' -> '<Component>/<key>/<file>' (the id differs between runs)."""
    keyed = {}
    for name in names:
        parts = name.split("/", 3)
        if len(parts) == 4:
            keyed[f"{parts[0]}/{parts[1]}/{parts[3]}"] = name
    return keyed


def test_the_readme_bucket_run_puts_every_artifact_in_the_bucket(runs, gcs):
    from ml_metadata.proto import metadata_store_pb2

    bucket_run, local_run = runs
    summary = json.loads((bucket_run / "summary.json").read_text())
    assert summary["examples"] == {"train": 256, "eval": 64} and summary["blessed"]
    assert summary["paths"]["artifacts"] == ROOT
    assert summary["paths"]["serving model"].startswith(f"{ROOT}/serving/headsynth/")
    # Only ML Metadata, the config, the summary and the Trainer's backups stay on this machine.
    assert not (bucket_run / "pipeline_root").exists() and not (bucket_run / "serving").exists()

    names = [n[len("headsynth/") :] for n in gcs.object_names(BUCKET, "headsynth/") if not n.endswith("/")]
    for pattern in (
        "FaceModel/model/*/model.npz",
        "SampleParameters/parameters/*/parameters.npz",
        "RenderExamples/examples/*/Split-train/*.gz",
        "RenderExamples/examples/*/Split-eval/*.gz",
        "RenderExamples/examples/*/contact_sheet_angle.png",
        "RenderExamples/examples/*/render.json",
        "StatisticsGen/statistics/*/Split-train/FeatureStats.pb",
        "ExampleValidator/anomalies/*/Split-eval/SchemaDiff.pb",
        "Trainer/model/*/Format-Serving/saved_model.pb",
        "Trainer/model_run/*/regressor.keras",
        "Trainer/model_run/*/*events.out.tfevents.*",
        "Evaluate/evaluation/*/metrics.json",
        "Evaluate/evaluation/*/errors.npz",
        "Evaluate/evaluation/*/error_violin.png",
        "Evaluate/evaluation/*/report.html",
        "serving/headsynth/*/saved_model.pb",
    ):
        assert fnmatch.filter(names, pattern), f"no {pattern} in gs://{BUCKET}/headsynth"
    leftovers = [n for n in names if ".tmp-" in n or ".headsynth-write-check-" in n]
    assert not leftovers, f"temporary objects left behind: {leftovers}"

    store, executions = executions_by_node(bucket_run / "metadata.sqlite")
    assert set(executions) == PIPELINE_COMPONENTS
    for node, found in executions.items():
        assert [e.last_known_state for e in found] == [metadata_store_pb2.Execution.COMPLETE], node
        events = store.get_events_by_execution_ids([found[0].id])
        outputs = [e.artifact_id for e in events if e.type == metadata_store_pb2.Event.OUTPUT]
        for artifact in store.get_artifacts_by_id(outputs):
            assert artifact.uri.startswith(f"{ROOT}/"), (node, artifact.uri)

    # The same bytes as the local run's, wherever they were written.
    local_root = local_run / "pipeline_root"
    local_names = [p.relative_to(local_root).as_posix() for p in local_root.rglob("*") if p.is_file()]
    local_files, bucket_files = artifact_files(local_names), artifact_files(names)
    compared = [key for key in bucket_files if any(fnmatch.fnmatch(key, pattern) for pattern in SAME_BYTES)]
    assert len(compared) >= 4
    for key in compared:
        local_bytes = (local_root / local_files[key]).read_bytes()
        assert gcs.read_object(BUCKET, f"headsynth/{bucket_files[key]}") == local_bytes, key


def test_the_pushed_model_read_back_from_the_bucket_predicts_as_the_local_runs(runs, gcs):
    import tensorflow as tf

    from headsynth.data_schemas import features

    bucket_run, local_run = runs
    eval_shards = sorted((local_run / "pipeline_root" / "RenderExamples").glob("examples/*/Split-eval/*.gz"))
    records = tf.data.TFRecordDataset([str(p) for p in eval_shards], compression_type="GZIP").take(8)
    images = [
        tf.train.Example.FromString(r.numpy()).features.feature[features.IMAGE].bytes_list.value[0]
        for r in records
    ]
    assert len(images) == 8

    def predict(model_dir: str) -> dict[str, np.ndarray]:
        serve = tf.saved_model.load(model_dir).signatures["serving_default"]
        return {name: value.numpy() for name, value in serve(images=tf.constant(images)).items()}

    (local_version,) = (local_run / "serving" / "headsynth").iterdir()
    local = predict(str(local_version))
    bucket_model = json.loads((bucket_run / "summary.json").read_text())["paths"]["serving model"]
    with gcs.environment():  # TensorFlow in this process reads the SavedModel from the bucket
        from_bucket = predict(bucket_model)
    assert set(from_bucket) == set(local) >= {"q", "shape_parameters", "texture_parameters"}
    for name in local:
        np.testing.assert_array_equal(
            from_bucket[name], local[name], err_msg=name
        )  # training is deterministic


def test_a_bucket_that_cannot_be_written_is_one_error_line(gcs, tmp_path, capsys):
    from headsynth.cli.main import main

    out = tmp_path / "run"
    argv = [
        "run",
        "--preset",
        "ci",
        "--out",
        str(out),
        "--set",
        "pipeline.pipeline_root=gs://no-such-bucket/h",
    ]
    with gcs.environment():
        assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in lines if line.startswith("headsynth: error:")]
    assert errors == lines[-1:], lines  # one error line, after the run's start line
    assert errors[0].startswith(
        "headsynth: error: Cannot write to pipeline.pipeline_root gs://no-such-bucket/h"
    )
    assert "gs://no-such-bucket does not exist" in errors[0] and "credentials" in errors[0]
    assert not out.exists()


def executor_input(job: dict, task: str, run_root: str, input_artifacts: dict | None = None) -> dict:
    """What the Kubeflow V2 launcher passes as `{{$}}`: the task's parameters, input and output artifacts."""
    spec = job["pipelineSpec"]
    component = spec["components"][task]
    parameters = spec["root"]["dag"]["tasks"][task]["inputs"].get("parameters", {})
    outputs = {
        key: {
            "artifacts": [
                {"name": f"{task}-{key}", "type": output["artifactType"], "uri": f"{run_root}/{task}/{key}"}
            ]
        }
        for key, output in component["outputDefinitions"]["artifacts"].items()
    }
    return {
        "inputs": {
            "parameters": {
                name: value["runtimeValue"]["constantValue"] for name, value in parameters.items()
            },
            "artifacts": input_artifacts or {},
        },
        "outputs": {"artifacts": outputs, "outputFile": f"{run_root}/{task}/executor_output.json"},
    }


def run_as_a_pod(job: dict, task: str, run_root: str, gcs: GcsEmulator, inputs: dict | None = None) -> dict:
    """Runs `task`'s container command and arguments from the PipelineJob; returns its ExecutorOutput."""
    spec = job["pipelineSpec"]
    container = spec["deploymentSpec"]["executors"][spec["components"][task]["executorLabel"]]["container"]
    invocation = json.dumps(executor_input(job, task, run_root, inputs))
    command = [sys.executable if word == "python" else word for word in container["command"]]
    args = [invocation if arg == "{{$}}" else arg for arg in container["args"]]
    result = subprocess.run(
        command + args,
        cwd=REPO,
        env={**os.environ, **gcs.env()},
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    output_file = f"{run_root}/{task}/executor_output.json"[len(f"gs://{BUCKET}/") :]
    return json.loads(gcs.read_object(BUCKET, output_file))


def test_compiled_kubeflow_steps_run_as_pods_and_hand_over_through_the_bucket(gcs, tmp_path):
    from headsynth.cli.main import main
    from headsynth.data_schemas.parameter_store import PARAMETERS_FILE, load_split_parameters
    from headsynth.morphable.model import load_npz

    out = tmp_path / "pipeline.json"
    root = f"gs://{BUCKET}/kubeflow"
    argv = ["compile", "--target", "kubeflow", "--preset", "ci", "--image", IMAGE]
    assert main([*argv, "--set", f"pipeline.pipeline_root={root}", "--out", str(out)]) == 0
    job = json.loads(out.read_text())
    run_root = f"{job['runtimeConfig']['gcsOutputDirectory']}/run-1"

    face_model = run_as_a_pod(job, "FaceModel", run_root, gcs)
    (model,) = face_model["artifacts"]["model"]["artifacts"]
    assert model["uri"] == f"{run_root}/FaceModel/model" and model["metadata"]["num_parameters"] == 8

    # The next step gets FaceModel's output as the launcher hands it over: the artifact with its type.
    wanted = job["pipelineSpec"]["components"]["SampleParameters"]["inputDefinitions"]["artifacts"]
    handed_over = {"face_model": {"artifacts": [{**model, "type": wanted["face_model"]["artifactType"]}]}}
    parameters = run_as_a_pod(job, "SampleParameters", run_root, gcs, handed_over)
    (sampled,) = parameters["artifacts"]["parameters"]["artifacts"]
    assert sampled["uri"] == f"{run_root}/SampleParameters/parameters"

    with gcs.environment():  # the library reads both outputs back from the bucket
        assert load_npz(f"{model['uri']}/model.npz").num_parameters == 8
        train = load_split_parameters(f"{sampled['uri']}/{PARAMETERS_FILE}", "train")
        evaluation = load_split_parameters(f"{sampled['uri']}/{PARAMETERS_FILE}", "eval")
    assert train.shape == (256, 8) and evaluation.shape == (64, 8)
