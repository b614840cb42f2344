"""Runs the pipeline with TFX's LocalDagRunner and summarizes what it produced."""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass, field

import tensorflow as tf
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx
from tfx.orchestration import metadata

from headsynth.config import HeadsynthConfig
from headsynth.core.errors import ConfigError
from headsynth.core.io_utils import is_uri, read_json, write_text_atomic
from headsynth.pipeline.pipeline import RunPaths, create_pipeline


@dataclass
class RunSummary:
    """What one run did, read back from ML Metadata and the artifacts."""

    preset: str
    seconds: float
    examples: dict[str, int] = field(default_factory=dict)
    train_steps: int = 0
    net_error: float = float("nan")
    naive_error: float = float("nan")
    blessed: bool = False
    real_photos: str = ""
    cached_components: list[str] = field(default_factory=list)
    executed_components: list[str] = field(default_factory=list)
    paths: dict[str, str] = field(default_factory=dict)

    def table(self) -> str:
        """A short human-readable table."""
        rows = [
            ("examples rendered", ", ".join(f"{k} {v}" for k, v in self.examples.items())),
            ("training steps", str(self.train_steps)),
            ("eval error, net", f"{self.net_error:.4f}"),
            ("eval error, naive (q = 0)", f"{self.naive_error:.4f}"),
            ("net / naive", f"{self.net_error / self.naive_error:.3f}" if self.naive_error else "n/a"),
            ("model pushed", "yes" if self.blessed else "no (did not beat the naive predictor)"),
            *([("real photos", self.real_photos)] if self.real_photos else []),
            (
                "pipeline time",
                f"{self.seconds:.1f} s ({len(self.cached_components)} of "
                f"{len(self.cached_components) + len(self.executed_components)} steps from cache)",
            ),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"  {name:<{width}}  {value}" for name, value in rows]
        lines.append("")
        lines += [f"  {name:<{width}}  {value}" for name, value in self.paths.items()]
        return "\n".join(lines)


def run_local(config: HeadsynthConfig, output_dir: str) -> RunSummary:
    """Runs the whole pipeline locally; returns its summary (also written to `summary.json`).

    The artifacts and the pushed model go under `output_dir`, or under
    `pipeline.pipeline_root` when the configuration names one (a bucket such
    as gs://my-bucket/headsynth, read and written through tf.io.gfile and
    Beam's file systems); ML Metadata, config.json and summary.json stay in
    `output_dir`.
    """
    paths = RunPaths.under(output_dir, config.pipeline.model_name, config.pipeline.pipeline_root)
    if is_uri(paths.pipeline_root):
        check_writable(paths.pipeline_root)
    write_text_atomic(os.path.join(paths.root, "config.json"), config.to_json())
    started = time.monotonic()
    run_started_ms = int(time.time() * 1000)
    metadata_config = tfx.orchestration.metadata.sqlite_metadata_connection_config(paths.metadata)
    tfx.orchestration.LocalDagRunner().run(create_pipeline(config, paths, metadata_config))
    summary = summarize_run(config, paths, time.monotonic() - started, run_started_ms)
    write_text_atomic(os.path.join(paths.root, "summary.json"), json.dumps(summary.__dict__, indent=2))
    return summary


def check_writable(root: str) -> None:
    """Checks that the bucket of `root` exists and takes a small object, so a bad root fails before any step.

    The bucket is looked up first: TensorFlow's `makedirs` never returns on a
    bucket that does not exist.

    Raises:
        ConfigError: naming the root and what went wrong.
    """
    scheme, _, rest = root.partition("://")
    bucket = f"{scheme}://{rest.split('/')[0]}"
    fix = (
        "Check that the bucket exists and that this machine's credentials may write to it "
        "(e.g. gcloud auth application-default login), or leave pipeline.pipeline_root empty."
    )
    probe = f"{root}/.headsynth-write-check-{uuid.uuid4().hex}"
    try:
        if not tf.io.gfile.exists(bucket):
            raise ConfigError(f"Cannot write to pipeline.pipeline_root {root}: {bucket} does not exist.", fix)
        tf.io.gfile.makedirs(root)
        with tf.io.gfile.GFile(probe, "w") as f:
            f.write("")
        tf.io.gfile.remove(probe)
    except tf.errors.OpError as error:
        answer = " ".join(str(error.message).split())
        raise ConfigError(f"Cannot write to pipeline.pipeline_root {root} ({answer}).", fix) from None


def summarize_run(config: HeadsynthConfig, paths: RunPaths, seconds: float, since_ms: int) -> RunSummary:
    """Reads the latest run's executions and artifacts back from ML Metadata."""
    store = metadata_store.MetadataStore(metadata.sqlite_metadata_connection_config(paths.metadata))
    summary = RunSummary(preset=config.preset, seconds=seconds)
    latest = latest_executions(store, since_ms)
    for node, execution in sorted(latest.items()):
        if execution.last_known_state == metadata_store_pb2.Execution.CACHED:
            summary.cached_components.append(node)
        else:
            summary.executed_components.append(node)
    for node, execution in latest.items():
        if node in OUTPUT_READERS:
            OUTPUT_READERS[node](summary, outputs_of(store, execution))
    summary.paths["metadata"] = paths.metadata
    summary.paths["artifacts"] = paths.pipeline_root
    return summary


def latest_executions(
    store: metadata_store.MetadataStore, since_ms: int
) -> dict[str, metadata_store_pb2.Execution]:
    """Node id -> its newest execution created since `since_ms` (this run's)."""
    latest = {}
    for execution in store.get_executions():
        if execution.create_time_since_epoch < since_ms:
            continue
        node = (
            execution.custom_properties["__tfx_node_id__"].string_value
            if "__tfx_node_id__" in execution.custom_properties
            else ""
        )
        node = node or store.get_execution_types_by_id([execution.type_id])[0].name.split(".")[-1]
        latest[node] = execution
    return latest


def outputs_of(
    store: metadata_store.MetadataStore, execution: metadata_store_pb2.Execution
) -> dict[str, list]:
    """Output key -> the artifacts an execution wrote."""
    found: dict[str, list] = {}
    for event in store.get_events_by_execution_ids([execution.id]):
        if event.type != metadata_store_pb2.Event.OUTPUT:
            continue
        key = event.path.steps[0].key if event.path.steps else ""
        found.setdefault(key, []).extend(store.get_artifacts_by_id([event.artifact_id]))
    return found


def _read_render(summary: RunSummary, outputs: dict[str, list]) -> None:
    if outputs.get("examples"):
        render = read_json(os.path.join(outputs["examples"][0].uri, "render.json"))
        summary.examples = render["counts"]
        for scenario, sheet in render["contact_sheets"].items():
            summary.paths[f"contact sheet ({scenario})"] = sheet


def _read_trainer(summary: RunSummary, outputs: dict[str, list]) -> None:
    if outputs.get("model_run"):
        run_dir = outputs["model_run"][0].uri
        result_path = os.path.join(run_dir, "training_result.json")
        if tf.io.gfile.exists(result_path):
            summary.train_steps = read_json(result_path)["train_steps"]
        summary.paths["tensorboard logs"] = run_dir


def _read_evaluate(summary: RunSummary, outputs: dict[str, list]) -> None:
    if outputs.get("evaluation"):
        uri = outputs["evaluation"][0].uri
        metrics = read_json(os.path.join(uri, "metrics.json"))
        summary.net_error = metrics["net"]["mean"]
        summary.naive_error = metrics["naive"]["mean"]
        summary.blessed = bool(metrics["beats_naive"])
        if metrics.get("real_photos"):
            summary.real_photos = real_photos_row(metrics["real_photos"]["summary"])
        summary.paths["evaluation"] = uri
        if tf.io.gfile.exists(os.path.join(uri, "report.html")):
            summary.paths["report"] = os.path.join(uri, "report.html")


def real_photos_row(summary: dict) -> str:
    """The run table's real-photo line: own photo above the mean face and rank-1, with counts."""
    n = summary["faces"]
    return (
        f"own > mean face {summary['own_above_mean_face']}/{n}, "
        f"rank-1 {summary['rank1']}/{n} (chance 1/{n}), verified {summary['verified']}/{n}"
    )


def _read_pusher(summary: RunSummary, outputs: dict[str, list]) -> None:
    if outputs.get("pushed_model"):
        pushed = outputs["pushed_model"][0]
        if pushed.custom_properties.get("pushed") and pushed.custom_properties["pushed"].int_value:
            summary.paths["serving model"] = pushed.custom_properties["pushed_destination"].string_value


# What the run table takes from each step's outputs.
OUTPUT_READERS = {
    "RenderExamples": _read_render,
    "Trainer": _read_trainer,
    "Evaluate": _read_evaluate,
    "Pusher": _read_pusher,
}
