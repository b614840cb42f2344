"""Resuming a killed render job, and checking that a finished one wrote every shard.

Shards only ever appear under their final name by an atomic rename, so a shard
file that exists is complete. A folder left by a killed run of the *same* job
(recorded in `.render_job.json`) keeps its complete shards; anything else in
the split folders is cleared before rendering.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from headsynth.components.rendering.shard_plan import (
    ShardItem,
    plan_shards,
    shard_path,
    shards_in_split,
    split_dir,
    split_shard_paths,
)
from headsynth.core.io_utils import write_text_atomic

JOB_FILE = ".render_job.json"


def job_identity(job_fields: dict, counts: dict[str, int]) -> str:
    """What makes two runs the same job: its fields and the example counts, as canonical JSON."""
    return json.dumps({"job": job_fields, "counts": counts}, sort_keys=True)


def _clear_split_dirs(output_dir: str, counts: dict[str, int], keep_shards: bool) -> None:
    """Removes temporary files, and also every shard unless `keep_shards`; makes the split folders."""
    for split in counts:
        folder = split_dir(output_dir, split)
        if tf.io.gfile.exists(folder):
            for name in tf.io.gfile.listdir(folder):
                if not keep_shards or ".tmp-" in name:
                    tf.io.gfile.remove(os.path.join(folder, name))
        tf.io.gfile.makedirs(folder)


def remove_partial_shards(output_dir: str, counts: dict[str, int]) -> None:
    """Removes the temporary files of shards whose writer died (a killed worker's); keeps shards."""
    _clear_split_dirs(output_dir, counts, keep_shards=True)


def unfinished_shards(output_dir: str, counts: dict[str, int], num_shards: int) -> list[ShardItem]:
    """The planned work items whose shard file does not exist yet."""
    return [
        (split, shard, start, stop)
        for split, shard, start, stop in plan_shards(counts, num_shards)
        if not tf.io.gfile.exists(
            shard_path(output_dir, split, shard, shards_in_split(split, counts[split], num_shards))
        )
    ]


def prepare_output(
    output_dir: str, job_fields: dict, counts: dict[str, int], num_shards: int
) -> list[ShardItem]:
    """Makes the output folder ready and returns the shards still to render.

    Args:
        output_dir: the Examples artifact directory.
        job_fields: every field of the job (`dataclasses.asdict`); a folder
            left by a job with other fields starts over.
        counts: examples per split.
        num_shards: shards of the train split.
    """
    tf.io.gfile.makedirs(output_dir)
    identity = job_identity(job_fields, counts)
    job_file = os.path.join(output_dir, JOB_FILE)
    same_job = tf.io.gfile.exists(job_file) and tf.io.gfile.GFile(job_file).read() == identity
    _clear_split_dirs(output_dir, counts, keep_shards=same_job)
    if not same_job:
        write_text_atomic(job_file, identity)
    return unfinished_shards(output_dir, counts, num_shards)


def verify_output(output_dir: str, counts: dict[str, int], num_shards: int) -> dict[str, list[str]]:
    """Checks every expected shard exists; returns the shard paths per split.

    Raises:
        RuntimeError: naming a missing shard.
    """
    written = {}
    for split, count in counts.items():
        paths = split_shard_paths(output_dir, split, count, num_shards)
        missing = [p for p in paths if not tf.io.gfile.exists(p)]
        if missing:
            raise RuntimeError(
                f"Render job finished but {len(missing)} shard(s) are missing, e.g. {missing[0]}."
            )
        written[split] = paths
    return written
