import hashlib

import numpy as np
import pytest
import tensorflow as tf
from conftest import decode_png, write_model_and_parameters

from headsynth.components.rendering.render_job import RenderJob, run_render_job
from headsynth.components.rendering.scenarios import SCENARIOS
from headsynth.components.rendering.shard_plan import read_examples, shard_of
from headsynth.data_schemas.features import FACTOR_NAMES


def _digests(folder):
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.glob("Split-*/*"))
    }


def test_same_bytes_with_one_and_two_workers(tmp_path, small_model):
    write_model_and_parameters(tmp_path, small_model, 64, 8, seed=5)
    outputs = {}
    for workers, args in ((1, []), (2, ["--direct_running_mode=multi_processing", "--direct_num_workers=2"])):
        job = RenderJob(
            str(tmp_path / "model.npz"),
            str(tmp_path / "params.npz"),
            str(tmp_path / f"w{workers}"),
            scenario="angle_bg",
            eval_scenario="all",
            image_size=32,
            batch_size=8,
            num_shards=3,
        )
        run_render_job(job, beam_args=args)
        outputs[workers] = _digests(tmp_path / f"w{workers}")
    assert len(outputs[1]) == 4  # 3 train shards + 1 eval shard
    assert outputs[1] == outputs[2]
    assert not list(tmp_path.glob("w*/Split-*/.*"))  # no temporary files left behind


def test_same_bytes_with_any_batch_size(tmp_path, small_model):
    """Every draw of an example (pose, light temperature, flip, jitter, texture) comes from its own
    (seed, split, index) generator, so batching changes no byte."""
    write_model_and_parameters(tmp_path, small_model, 10, 5, seed=6)
    outputs = {}
    for batch_size in (3, 8):
        job = RenderJob(
            str(tmp_path / "model.npz"),
            str(tmp_path / "params.npz"),
            str(tmp_path / f"b{batch_size}"),
            scenario="all",
            eval_scenario="all_extra",
            image_size=32,
            batch_size=batch_size,
            num_shards=2,
        )
        run_render_job(job)
        outputs[batch_size] = _digests(tmp_path / f"b{batch_size}")
    assert len(outputs[3]) == 3  # 2 train shards + 1 eval shard
    assert outputs[3] == outputs[8]
    records = read_examples(str(tmp_path / "b3"), "train")
    temperatures = [tf.train.Example.FromString(r).features.feature["light_temperature_k"] for r in records]
    assert len({t.float_list.value[0] for t in temperatures}) == 10  # the new factors are stored


def test_shards_hold_contiguous_balanced_ranges():
    shards = [shard_of(i, 10, 3) for i in range(10)]
    assert shards == sorted(shards) and set(shards) == {0, 1, 2}
    assert max(shards.count(s) for s in range(3)) - min(shards.count(s) for s in range(3)) <= 1


def test_examples_store_their_factors_and_show_a_face(rendered_examples):
    records = read_examples(str(rendered_examples), "train")
    assert len(records) == 48
    yaw_low, yaw_high = SCENARIOS["angle"].yaw_deg.bounds()
    indices = []
    for record in records:
        feature = tf.train.Example.FromString(record).features.feature
        yaw = feature["yaw_deg"].float_list.value[0]
        assert yaw_low <= yaw <= yaw_high
        assert feature["scenario"].bytes_list.value[0] == b"angle"
        indices.append(feature["index"].int64_list.value[0])
        image = decode_png(feature["image"].bytes_list.value[0])
        assert image.shape == (32, 32, 3)
        head = np.abs(image.astype(int) - 128).sum(-1) > 12  # not the gray background
        assert head.mean() > 0.05
        assert not head[0].all() and not head[:, 0].all()  # inside the frame
    assert indices == list(range(48))  # every index once, in order


def test_render_summary_and_contact_sheet(rendered_examples):
    import json

    summary = json.loads((rendered_examples / "render.json").read_text())
    assert summary["counts"] == {"train": 48, "eval": 16}
    sheet = rendered_examples / "contact_sheet_angle.png"
    assert sheet.exists() and sheet.stat().st_size > 1000
    assert (rendered_examples / "face_model.npz").exists()


def test_unknown_scenario_fails_before_rendering(tmp_path, small_model):
    from headsynth.core.errors import ConfigError

    job = RenderJob("unused.npz", "unused.npz", str(tmp_path / "out"), scenario="sideways")
    with pytest.raises(ConfigError, match="Unknown scenario 'sideways'"):
        run_render_job(job)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("scenario_name", ["none", "angle", "angle_bg", "all", "all_extra"])
def test_each_scenario_stores_in_range_factors_and_optional_maps(tmp_path, small_model, scenario_name):
    write_model_and_parameters(tmp_path, small_model, 12, 4, seed=9)
    job = RenderJob(
        str(tmp_path / "model.npz"),
        str(tmp_path / "params.npz"),
        str(tmp_path / "out"),
        scenario=scenario_name,
        eval_scenario=scenario_name,
        image_size=32,
        batch_size=8,
        num_shards=1,
        store_mask=True,
        store_depth=True,
    )
    run_render_job(job)
    scenario = SCENARIOS[scenario_name]
    for record in read_examples(str(tmp_path / "out"), "train"):
        feature = tf.train.Example.FromString(record).features.feature
        for name in FACTOR_NAMES:
            low, high = getattr(scenario, name).bounds()
            assert low - 1e-4 <= feature[name].float_list.value[0] <= high + 1e-4, name
        assert len(feature["sh_light"].float_list.value) == 27
        mask = decode_png(feature["mask"].bytes_list.value[0])[..., 0] > 127
        depth = tf.io.decode_png(feature["depth"].bytes_list.value[0], dtype=tf.uint16).numpy()[..., 0]
        assert np.array_equal(mask, depth > 0)  # depth exactly where the head is
        if scenario_name in ("none", "angle"):  # the face is visible and inside the frame
            assert mask.sum() > 0.05 * mask.size
            assert not (mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


def test_shard_ranges_invert_shard_of():
    from headsynth.components.rendering.shard_plan import shard_range

    for count, num_shards in ((10, 3), (7, 7), (100, 8), (5, 1)):
        covered = []
        for shard in range(num_shards):
            start, stop = shard_range(shard, count, num_shards)
            assert all(shard_of(i, count, num_shards) == shard for i in range(start, stop))
            covered += range(start, stop)
        assert covered == list(range(count))


@pytest.mark.parametrize(
    "args, expected",
    [
        ([], 0),  # in-process: TensorFlow's default
        (["--direct_running_mode=multi_threading", "--direct_num_workers=2"], 0),
        (["--direct_running_mode=multi_processing", "--direct_num_workers=2"], "half"),
        (["--direct_running_mode=multi_processing", "--direct_num_workers=1000"], 1),
        (["--direct_running_mode=multi_processing", "--direct_num_workers=0"], 1),  # 0 = one per core
    ],
)
def test_worker_processes_share_the_cores(monkeypatch, args, expected):
    import os

    from apache_beam.options.pipeline_options import PipelineOptions

    from headsynth.components.rendering.worker_tuning import threads_per_worker

    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert threads_per_worker(PipelineOptions(args)) == (4 if expected == "half" else expected)


def test_worker_processes_keep_freed_memory():
    import subprocess
    import sys

    probe = "from headsynth.components.rendering.worker_tuning import keep_freed_memory; print(keep_freed_memory())"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == "True", result.stderr[-2000:]
