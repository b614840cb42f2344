"""Beam arguments from the command line reach the render component unchanged; the code ships to workers.

- the README's multi-process command: its `--beam-arg` options, parsed by the
  real command line, run the RenderExamples component (TFX, LocalDagRunner)
  on Beam worker processes;
- `setup.py` builds the package Beam stages for remote workers (`--setup_file`);
- the Dockerfile is the image the compiled pipeline names (it cannot be built
  here: no Docker engine), so its checkable facts are checked;
- Beam's Dask runner chosen in a way that cannot work is named before
  anything runs (`tests/pipeline/test_dask_cluster.py` runs it on a cluster).
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest
from conftest import write_model_and_parameters
from test_readme import headsynth_argv, readme_command

from headsynth.cli.main import build_parser, main

ROOT = Path(__file__).resolve().parent.parent.parent


class WorkerWatcher:
    """Records the Beam SDK worker processes started below this process while active."""

    def __init__(self) -> None:
        self.workers: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.wait(0.2):
            for child in me.children(recursive=True):
                try:
                    if "sdk_worker_main" in " ".join(child.cmdline()):
                        self.workers.add(child.pid)
                except psutil.Error:
                    pass

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def test_render_component_runs_on_worker_processes_from_command_line_args(tmp_path):
    from tfx import v1 as tfx
    from tfx.orchestration.pipeline import RunOptions

    from headsynth.cli.arguments import resolve_config
    from headsynth.pipeline.pipeline import RunPaths, create_pipeline

    command = readme_command(".venv/bin/headsynth run --preset ci --out runs/ci-multiprocess")
    argv = headsynth_argv(command)
    argv[argv.index("--out") + 1] = str(tmp_path / "run")
    # Smaller than the ci preset; the Beam options are the README's, untouched.
    argv += [
        "--set",
        "sampling.num_train=24",
        "--set",
        "sampling.num_eval=8",
        "--set",
        "rendering.batch_size=4",
    ]
    args = build_parser().parse_args(argv)
    assert args.beam_args == ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    config = resolve_config(args)
    assert config.rendering.beam_args[-2:] == tuple(args.beam_args)

    paths = RunPaths.under(args.out, config.pipeline.model_name)
    metadata_config = tfx.orchestration.metadata.sqlite_metadata_connection_config(paths.metadata)
    pipeline = create_pipeline(config, paths, metadata_config)
    assert pipeline.beam_pipeline_args == list(config.rendering.beam_args)
    # The pipeline as `headsynth run` builds it, run up to the render step.
    up_to_render = RunOptions(to_nodes=["RenderExamples"])
    with WorkerWatcher() as watcher:
        tfx.orchestration.LocalDagRunner().run(pipeline, run_options=up_to_render)
    assert len(watcher.workers) >= 2, f"Beam ran on {len(watcher.workers)} worker process(es)"
    (render_json,) = (tmp_path / "run" / "pipeline_root" / "RenderExamples").glob("examples/*/render.json")
    assert json.loads(render_json.read_text())["counts"] == {"train": 24, "eval": 8}


def test_beam_args_pass_through_unchanged(capsys):
    odd = ["--runner=FlinkRunner", "--flink_master=host:8081", '--environment_config={"command": "/x y"}']
    assert main(["run", "--preset", "ci", "--show-config", *[f"--beam-arg={arg}" for arg in odd]]) == 0
    beam_args = json.loads(capsys.readouterr().out)["rendering"]["beam_args"]
    assert beam_args == ["--direct_running_mode=in_memory", "--direct_num_workers=1", *odd]


def test_setup_py_builds_the_package_beam_stages_for_workers(tmp_path):
    from apache_beam.runners.portability.stager import Stager

    sdist = Stager._build_setup_package(str(ROOT / "setup.py"), str(tmp_path))  # what --setup_file does
    names = tarfile.open(sdist).getnames()
    for needed in (
        "headsynth/serving/client.py",
        "headsynth/components/rendering/render_job.py",
        "headsynth/data/builtin_face_model.npz",
        "headsynth/data_schemas/schema.pbtxt",
        "requirements/stack.txt",  # setup.py reads it on the worker
    ):
        assert any(name.endswith(needed) for name in names), needed
    # A worker installs the sdist; building the wheel from it runs setup.py as the worker does.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            sdist,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = tmp_path.glob("headsynth-*.whl")
    wheel_names = zipfile.ZipFile(wheel).namelist()
    assert "headsynth/data/builtin_face_model.npz" in wheel_names
    metadata = next(n for n in wheel_names if n.endswith("METADATA"))
    requires = [
        line
        for line in zipfile.ZipFile(wheel).read(metadata).decode().splitlines()
        if line.startswith("Requires-Dist")
    ]
    assert any("kfp==2.13.0" in line for line in requires) and any("tfx==1.16.0" in line for line in requires)


def test_dockerfile_is_the_image_the_pipeline_names():
    from headsynth.pipeline.kubeflow_runner import IMAGE_SOURCE_DIR

    dockerfile = (ROOT / "Dockerfile").read_text()
    instructions = [line for line in dockerfile.splitlines() if line and not line.startswith("#")]
    final_from = [line for line in instructions if line.startswith("FROM ")][-1]
    assert final_from == "FROM tensorflow/tfx:1.16.0"
    assert f"WORKDIR {IMAGE_SOURCE_DIR}" in instructions
    assert (
        "-e ." in dockerfile and "--no-deps" in dockerfile
    )  # editable: the package lives at /headsynth/headsynth
    for requirements in ("requirements/stack.txt", "requirements/dev.txt", "-c requirements/stack.lock.txt"):
        assert requirements in dockerfile
    assert "scripts/build_rasterizer.py" in dockerfile and (ROOT / "scripts" / "build_rasterizer.py").exists()
    # The Beam worker boot program matches the locked Beam and Python.
    lock = (ROOT / "requirements" / "stack.lock.txt").read_text()
    beam_version = re.search(r"^apache-beam==(\S+)$", lock, flags=re.M).group(1)
    assert f"ARG BEAM_VERSION={beam_version}" in dockerfile
    python = re.search(r"^ARG PYTHON_VERSION=(\S+)$", dockerfile, flags=re.M).group(1)
    assert f"apache/beam_python{python}_sdk:${{BEAM_VERSION}}" in dockerfile
    assert python == f"{sys.version_info.major}.{sys.version_info.minor}"  # the verified stack's Python
    assert 'ENTRYPOINT ["/opt/apache/beam/boot"]' in dockerfile
    # The fast test subset it runs at build time exists.
    run_tests = re.search(r"python -m pytest (.*?)(?:\n\n|\Z)", dockerfile, flags=re.S).group(1)
    paths = [word for word in run_tests.replace("\\", " ").split() if word.startswith("tests")]
    assert paths
    for path in paths:
        assert (ROOT / path).exists(), path
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv/" in ignored and ".git/" in ignored  # the build context stays small


def test_dask_runner_choices_that_cannot_work_are_named_before_anything_runs(tmp_path, capsys):
    from headsynth.components.rendering.beam_runners import DASK_RUNNER, other_components_beam_args

    out = tmp_path / "run"
    for beam_args, expected in (
        (
            ["--runner=DaskRunner"],
            f"it knows Dask's runner only by its full name. Write --beam-arg=--runner={DASK_RUNNER}",
        ),
        (
            [f"--runner={DASK_RUNNER}"],
            "without a Dask scheduler to run on. Add --beam-arg=--dask_client_address=",
        ),
    ):
        assert (
            main(["run", "--preset", "ci", "--out", str(out), *[f"--beam-arg={a}" for a in beam_args]]) == 2
        )
        error = capsys.readouterr().err.strip()
        assert expected in error and len(error.splitlines()) == 1, error
    assert not out.exists()
    # The pipeline's other Beam steps stay on the direct runner when the render job runs on Dask.
    assert other_components_beam_args([f"--runner={DASK_RUNNER}", "--dask_client_address=tcp://h:1"]) == [
        "--runner=DirectRunner"
    ]
    assert other_components_beam_args(["--runner=FlinkRunner"]) == []


def test_an_unreachable_dask_scheduler_is_named(tmp_path, small_model):
    from headsynth.components.rendering.beam_runners import DASK_RUNNER
    from headsynth.components.rendering.render_job import RenderJob, run_render_job
    from headsynth.core.errors import ConfigError

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    write_model_and_parameters(tmp_path, small_model, 8, 4)
    job = RenderJob(
        str(tmp_path / "model.npz"), str(tmp_path / "params.npz"), str(tmp_path / "out"), image_size=32
    )
    beam_args = [
        f"--runner={DASK_RUNNER}",
        f"--dask_client_address=tcp://127.0.0.1:{port}",
        "--dask_connection_timeout=1",
    ]
    with pytest.raises(
        ConfigError, match=f"No Dask scheduler answered .*127.0.0.1:{port}.*Start `dask scheduler`"
    ):
        run_render_job(job, beam_args=beam_args)
    assert not list((tmp_path / "out").glob("Split-*/*"))  # no shard, not even a temporary one
