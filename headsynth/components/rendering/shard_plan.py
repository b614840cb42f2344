"""Which examples go to which shard file, and where the shard files are.

Each split's examples are cut into contiguous, balanced index ranges, one per
shard file; a shard's range depends only on the example count and the number
of shards, never on the number of workers.

    <output_dir>/Split-<split>/data_tfrecord-<shard>-of-<num_shards>.gz
"""

from __future__ import annotations

import os

import tensorflow as tf

from headsynth.data_schemas.shards import read_records

SPLIT_DIR = "Split-{split}"
SHARD_NAME = "data_tfrecord-{shard:05d}-of-{num_shards:05d}.gz"

ShardItem = tuple[str, int, int, int]
"""One work item: (split, shard, start, stop), the examples start..stop-1 of one shard file."""


def shards_in_split(split: str, count: int, num_shards: int) -> int:
    """Shard files of a split of `count` examples when the train split gets `num_shards`.

    The eval split gets a quarter as many (at least 1); no split gets more
    shards than examples.
    """
    if split == "train":
        return max(1, min(num_shards, count))
    return max(1, min(count, num_shards // 4 or 1))


def shard_of(index: int, count: int, num_shards: int) -> int:
    """Shard holding example `index` of `count`: contiguous, balanced ranges."""
    return index * num_shards // count


def shard_range(shard: int, count: int, num_shards: int) -> tuple[int, int]:
    """[start, stop) of the indices in one shard (the inverse of `shard_of`)."""
    start = -(-shard * count // num_shards)  # ceil(shard * count / num_shards)
    stop = -(-(shard + 1) * count // num_shards)
    return start, stop


def plan_shards(counts: dict[str, int], num_shards: int) -> list[ShardItem]:
    """Work items, one per output file, covering every example of every split once.

    Args:
        counts: examples per split, e.g. {"train": 2000, "eval": 400}.
        num_shards: shards of the train split (see `shards_in_split`).
    """
    items = []
    for split, count in counts.items():
        split_shards = shards_in_split(split, count, num_shards)
        items += [(split, shard, *shard_range(shard, count, split_shards)) for shard in range(split_shards)]
    return items


def split_dir(output_dir: str, split: str) -> str:
    """The folder of one split's shards."""
    return os.path.join(output_dir, SPLIT_DIR.format(split=split))


def shard_path(output_dir: str, split: str, shard: int, split_shards: int) -> str:
    """The file of one shard, of `split_shards` in its split."""
    return os.path.join(split_dir(output_dir, split), SHARD_NAME.format(shard=shard, num_shards=split_shards))


def split_shard_paths(output_dir: str, split: str, count: int, num_shards: int) -> list[str]:
    """Every shard file of a split of `count` examples, in shard order."""
    split_shards = shards_in_split(split, count, num_shards)
    return [shard_path(output_dir, split, shard, split_shards) for shard in range(split_shards)]


def read_examples(output_dir: str, split: str, limit: int | None = None) -> list[bytes]:
    """Serialized examples of one split, in index order (reads shards in order).

    Raises:
        DataError: naming a corrupt or truncated shard.
    """
    pattern = os.path.join(split_dir(output_dir, split), "*.gz")
    return read_records(sorted(tf.io.gfile.glob(pattern)), limit)
