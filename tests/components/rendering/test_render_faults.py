"""A render job killed midway and run again ends with exactly the uninterrupted output."""

import hashlib
import signal
import subprocess
import sys
import textwrap
import time

from conftest import write_model_and_parameters

from headsynth.components.rendering.render_job import RenderJob, run_render_job


def _digests(folder):
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.glob("Split-*/*.gz"))
    }


def _job(root, name):
    return RenderJob(
        str(root / "model.npz"),
        str(root / "params.npz"),
        str(root / name),
        image_size=64,
        batch_size=8,
        num_shards=32,
    )


def test_killed_job_resumes_to_identical_output(tmp_path, small_model):
    write_model_and_parameters(tmp_path, small_model, 256, 8, seed=4)
    reference = _job(tmp_path, "reference")
    run_render_job(reference)

    interrupted = _job(tmp_path, "interrupted")
    script = textwrap.dedent(
        f"""
        from headsynth.components.rendering.render_job import RenderJob, run_render_job
        run_render_job(RenderJob(**{interrupted.__dict__!r}))
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    train = tmp_path / "interrupted" / "Split-train"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(list(train.glob("*.gz"))) < 3:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = len(list(train.glob("*.gz")))
    assert 3 <= done_before < 32, "the job must be killed midway for this test to mean anything"
    assert not (tmp_path / "interrupted" / "render.json").exists()  # not marked complete

    summary = run_render_job(interrupted)
    assert summary["counts"] == {"train": 256, "eval": 8}
    assert _digests(tmp_path / "interrupted") == _digests(tmp_path / "reference")
    assert not [p for p in (tmp_path / "interrupted").rglob("*") if ".tmp-" in p.name]


def test_changed_job_in_the_same_folder_starts_over(tmp_path, small_model):
    write_model_and_parameters(tmp_path, small_model, 16, 4, seed=4)
    job = RenderJob(
        str(tmp_path / "model.npz"),
        str(tmp_path / "params.npz"),
        str(tmp_path / "out"),
        image_size=32,
        batch_size=8,
        num_shards=2,
    )
    run_render_job(job)
    first = _digests(tmp_path / "out")
    changed = RenderJob(**{**job.__dict__, "scenario": "none", "eval_scenario": "none"})
    run_render_job(changed)
    assert _digests(tmp_path / "out").keys() == first.keys()
    assert _digests(tmp_path / "out") != first  # re-rendered, not resumed from the other job's shards
