"""The render job on a real Dask cluster: a `dask scheduler` and two `dask worker` processes on localhost.

- the README's Dask commands start the cluster (on a free port) and run
  RenderExamples as `headsynth run` does (TFX, LocalDagRunner, up to the
  render step) on Beam's Dask runner; every shard is byte-identical to the
  direct runner's for the same job, and both workers ran tasks;
- a worker killed (SIGKILL) once the first shard is written: Dask reruns its
  tasks on the other worker and the same single run ends complete, with the
  same bytes and no temporary file left.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import write_model_and_parameters
from test_readme import headsynth_argv, readme_command

from headsynth.cli.main import build_parser

pytestmark = [pytest.mark.dask_cluster, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parent.parent.parent
README_PORT = "8786"
START_TIMEOUT_S = 120
# Smaller than the ci preset: 48 + 16 examples in 8 + 2 shards.
SMALL = [
    "--set",
    "sampling.num_train=48",
    "--set",
    "sampling.num_eval=16",
    "--set",
    "rendering.batch_size=8",
    "--set",
    "rendering.num_shards=8",
]
NUM_SHARDS = 10


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _readme_process(prefix: str, port: int) -> tuple[dict[str, str], list[str]]:
    """The environment assignments and argv of a README `dask` command, on `port`."""
    words = shlex.split(readme_command(prefix).replace(README_PORT, str(port)))
    env = dict(word.split("=", 1) for word in words if "=" in word and not word.startswith("-"))
    argv = [word for word in words if word not in {f"{k}={v}" for k, v in env.items()}]
    assert argv[0] == ".venv/bin/dask", argv
    return env, [str(Path(sys.executable).parent / "dask"), *argv[1:]]


@dataclass
class DaskCluster:
    """A scheduler and two workers started from the README's commands; `workers`: address -> pid."""

    address: str
    client: object
    workers: dict[str, int] = field(default_factory=dict)


@pytest.fixture
def dask_cluster(tmp_path):
    from distributed import Client

    port = _free_port()
    processes: list[subprocess.Popen] = []
    logs = tmp_path / "dask-logs"
    logs.mkdir()

    def start(prefix: str, extra: list[str], name: str) -> subprocess.Popen:
        env, argv = _readme_process(prefix, port)
        assert env.get("PYTHONHASHSEED") == "0"
        environment = {**os.environ, **env, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
        with open(logs / f"{name}.log", "wb") as log:
            process = subprocess.Popen(
                [*argv, *extra],
                cwd=tmp_path,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        processes.append(process)
        return process

    client = None
    try:
        start(
            "PYTHONHASHSEED=0 .venv/bin/dask scheduler", ["--dashboard-address", "127.0.0.1:0"], "scheduler"
        )
        # No nanny: the process started is the worker itself, so killing it kills a worker.
        worker_flags = ["--no-nanny", "--no-dashboard", "--memory-limit", "0"]
        for i in range(2):
            start(
                "PYTHONHASHSEED=0 .venv/bin/dask worker",
                [*worker_flags, "--local-directory", str(tmp_path / f"w{i}")],
                f"w{i}",
            )
        address = f"tcp://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT_S
        while client is None:
            with contextlib.suppress(OSError):
                client = Client(address, timeout=5)
            assert processes[0].poll() is None, (logs / "scheduler.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the Dask scheduler did not start"
        client.wait_for_workers(2, timeout=max(1.0, deadline - time.monotonic()))
        workers = client.run(os.getpid)
        assert sorted(workers.values()) == sorted(p.pid for p in processes[1:])
        yield DaskCluster(address, client, workers)
    finally:
        if client is not None:
            client.close()
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def _shards(folder: Path) -> dict[str, bytes]:
    """Every file in the split folders (shards, and temporary files if any), by relative path."""
    return {
        f"{split.name}/{name}": (split / name).read_bytes()
        for split in sorted(folder.glob("Split-*"))
        for name in sorted(os.listdir(split))
    }


def _direct_run_of(render_json: Path, output_dir: Path) -> dict[str, bytes]:
    """The same job as `render_json` records, rendered by the direct runner into `output_dir`."""
    from headsynth.components.rendering.render_job import RenderJob, run_render_job

    fields = json.loads(render_json.read_text())["job"]
    run_render_job(RenderJob(**{**fields, "output_dir": str(output_dir)}), beam_args=[])
    return _shards(output_dir)


def test_render_component_on_a_dask_cluster_gives_the_direct_runners_bytes(tmp_path, dask_cluster):
    from tfx import v1 as tfx
    from tfx.orchestration.pipeline import RunOptions

    from headsynth.cli.arguments import resolve_config
    from headsynth.pipeline.pipeline import RunPaths, create_pipeline

    command = readme_command(".venv/bin/headsynth run --preset ci --out runs/ci-dask")
    argv = headsynth_argv(command.replace(README_PORT, dask_cluster.address.rsplit(":", 1)[1]))
    argv[argv.index("--out") + 1] = str(tmp_path / "run")
    args = build_parser().parse_args([*argv, *SMALL])
    assert f"--dask_client_address={dask_cluster.address}" in args.beam_args
    config = resolve_config(args)
    paths = RunPaths.under(args.out, config.pipeline.model_name)
    metadata_config = tfx.orchestration.metadata.sqlite_metadata_connection_config(paths.metadata)
    pipeline = create_pipeline(config, paths, metadata_config)
    assert pipeline.beam_pipeline_args == list(config.rendering.beam_args)
    # The pipeline as `headsynth run` builds it, run up to the render step.
    tfx.orchestration.LocalDagRunner().run(pipeline, run_options=RunOptions(to_nodes=["RenderExamples"]))

    (render_json,) = (tmp_path / "run" / "pipeline_root" / "RenderExamples").glob("examples/*/render.json")
    assert json.loads(render_json.read_text())["counts"] == {"train": 48, "eval": 16}
    on_dask = _shards(render_json.parent)
    executed = dask_cluster.client.run(lambda dask_worker: dask_worker.state.executed_count)
    assert all(count > 0 for count in executed.values()), f"tasks run per worker: {executed}"
    assert len(on_dask) == NUM_SHARDS
    assert on_dask == _direct_run_of(render_json, tmp_path / "direct")


class KillAfterFirstShard:
    """Kills one worker (SIGKILL) as soon as a first shard appears in `folder`, while active."""

    def __init__(self, folder: Path, pid: int) -> None:
        self.folder, self.pid = folder, pid
        self.shards_at_kill: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            shards = list(self.folder.glob("Split-*/data_tfrecord-*.gz"))
            if shards:
                os.kill(self.pid, signal.SIGKILL)
                self.shards_at_kill = len(shards)
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def test_a_worker_killed_mid_job_still_gives_the_same_bytes(tmp_path, small_model, dask_cluster):
    from headsynth.cli.arguments import resolve_config
    from headsynth.components.rendering.render_job import RenderJob, run_render_job

    command = readme_command(".venv/bin/headsynth run --preset ci --out runs/ci-dask")
    argv = headsynth_argv(command.replace(README_PORT, dask_cluster.address.rsplit(":", 1)[1]))
    config = resolve_config(build_parser().parse_args([*argv, *SMALL]))
    write_model_and_parameters(tmp_path, small_model, 48, 16, seed=3)
    rendering = config.rendering
    job = RenderJob(
        str(tmp_path / "model.npz"),
        str(tmp_path / "params.npz"),
        str(tmp_path / "dask"),
        scenario=rendering.scenario,
        eval_scenario=rendering.scenario,
        image_size=rendering.image_size,
        batch_size=rendering.batch_size,
        num_shards=rendering.num_shards,
    )
    victim_address, victim = sorted(dask_cluster.workers.items())[0]
    with KillAfterFirstShard(tmp_path / "dask", victim) as killer:
        run_render_job(job, beam_args=list(rendering.beam_args))  # one run: Dask reruns the lost tasks

    assert killer.shards_at_kill is not None and killer.shards_at_kill < NUM_SHARDS, killer.shards_at_kill
    assert set(dask_cluster.client.scheduler_info()["workers"]) == set(dask_cluster.workers) - {
        victim_address
    }
    on_dask = _shards(tmp_path / "dask")  # also any temporary file a killed writer left
    assert len(on_dask) == NUM_SHARDS
    assert on_dask == _direct_run_of(tmp_path / "dask" / "render.json", tmp_path / "direct")
