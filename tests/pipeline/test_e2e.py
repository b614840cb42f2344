"""The `ci` preset through LocalDagRunner, twice: the second run comes from TFX's cache."""

import json
import os

import pytest
from conftest import PIPELINE_COMPONENTS
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration import metadata

from headsynth.config import apply_overrides, get_preset
from headsynth.pipeline.local_runner import run_local

COMPONENTS = PIPELINE_COMPONENTS


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("e2e") / "run"
    config = apply_overrides(get_preset("ci"), [])
    first = run_local(config, str(out))
    second = run_local(config, str(out))
    return out, first, second


def _executions(out):
    store = metadata_store.MetadataStore(
        metadata.sqlite_metadata_connection_config(str(out / "metadata.sqlite"))
    )
    by_node = {}
    for execution in store.get_executions():
        node = (
            execution.custom_properties["__tfx_node_id__"].string_value
            if "__tfx_node_id__" in execution.custom_properties
            else ""
        )
        node = node or store.get_execution_types_by_id([execution.type_id])[0].name.split(".")[-1]
        by_node.setdefault(node, []).append(execution.last_known_state)
    return by_node


def test_first_run_executes_every_component(two_runs):
    out, first, _ = two_runs
    assert set(first.executed_components) == COMPONENTS
    assert first.cached_components == []
    executions = _executions(out)
    assert set(executions) == COMPONENTS
    assert all(states[0] == metadata_store_pb2.Execution.COMPLETE for states in executions.values())


def test_second_run_is_served_from_cache(two_runs):
    out, first, second = two_runs
    assert set(second.cached_components) == COMPONENTS
    assert second.executed_components == []
    assert all(
        len(states) == 2 and states[1] == metadata_store_pb2.Execution.CACHED
        for states in _executions(out).values()
    )
    assert second.seconds <= 0.2 * first.seconds  # the bar for a cached rerun
    assert second.net_error == first.net_error  # the same artifacts


def test_artifacts_on_disk(two_runs):
    out, first, _ = two_runs
    assert first.examples == {"train": 256, "eval": 64}
    assert first.train_steps == 200
    root = out / "pipeline_root"
    examples = next((root / "RenderExamples" / "examples").iterdir())
    assert sorted(p.name for p in examples.glob("Split-*")) == ["Split-eval", "Split-train"]
    assert (examples / "contact_sheet_angle.png").exists()
    anomalies = list((root / "ExampleValidator").rglob("SchemaDiff.pb"))
    assert len(anomalies) == 2
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    for path in anomalies:
        parsed = anomalies_pb2.Anomalies.FromString(path.read_bytes())
        assert not parsed.anomaly_info, f"{path}: {dict(parsed.anomaly_info)}"
    model_run = next((root / "Trainer" / "model_run").iterdir())
    assert list(model_run.rglob("events.out.tfevents.*"))
    serving_model = next((root / "Trainer" / "model").iterdir()) / "Format-Serving" / "saved_model.pb"
    assert serving_model.exists()
    metrics = json.loads(
        next((root / "Evaluate" / "evaluation").iterdir()).joinpath("metrics.json").read_text()
    )
    assert metrics["net"]["count"] == 64
    assert metrics["naive"]["mean"] == pytest.approx(first.naive_error)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["examples"] == {"train": 256, "eval": 64}


def test_net_beats_naive_and_is_pushed_for_tf_serving(two_runs):
    out, first, _ = two_runs
    assert first.net_error < first.naive_error
    assert first.blessed
    pushed = list((out / "serving" / "headsynth").glob("*/saved_model.pb"))
    assert len(pushed) == 1
    version = pushed[0].parent
    assert version.name.isdigit()  # TF Serving's <model_base_path>/<version>/ layout
    assert os.path.samefile(version, first.paths["serving model"])
