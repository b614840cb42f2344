"""Reading rendered TFRecord shards, with a clear error naming a corrupt one."""

from __future__ import annotations

import tensorflow as tf

from headsynth.core.errors import DataError

FIX = (
    "Render the examples again: delete the run folder's RenderExamples output, or rerun with "
    "--set pipeline.enable_cache=false."
)


def _corrupt(path: str, error: Exception) -> DataError:
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return DataError(f"TFRecord shard {path} is corrupt or truncated ({first_line}).", FIX)


def read_records(files: list[str], limit: int | None = None) -> list[bytes]:
    """Serialized records of gzipped shards, file by file in the given order.

    Raises:
        DataError: naming the first shard that cannot be read.
    """
    records: list[bytes] = []
    for path in files:
        try:
            for record in tf.data.TFRecordDataset(path, compression_type="GZIP"):
                records.append(record.numpy())
                if limit is not None and len(records) >= limit:
                    return records
        except (tf.errors.DataLossError, tf.errors.InvalidArgumentError, tf.errors.OutOfRangeError) as error:
            raise _corrupt(path, error) from None
    return records


def find_corrupt_shard(files: list[str]) -> DataError | None:
    """The error for the first unreadable shard among `files`, or None if all read."""
    for path in files:
        try:
            for _ in tf.data.TFRecordDataset(path, compression_type="GZIP"):
                pass
        except (tf.errors.DataLossError, tf.errors.InvalidArgumentError, tf.errors.OutOfRangeError) as error:
            return _corrupt(path, error)
    return None
