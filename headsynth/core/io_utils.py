"""Small file helpers shared by every step: atomic writes above all."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import tensorflow as tf


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yields a temporary path beside `path`; renames it to `path` on success.

    A crash leaves only a `.NAME.tmp-*` file, never a half-written file under the
    final name. Works for local paths and for any filesystem tf.io.gfile knows.
    """
    path = str(path)
    parent = os.path.dirname(path)
    if parent:
        tf.io.gfile.makedirs(parent)
    # Dot-prefixed and not ending in the final suffix, so no reader's glob
    # (e.g. "Split-train/*.gz") ever picks up a half-written file.
    tmp = os.path.join(parent, f".{os.path.basename(path)}.tmp-{uuid.uuid4().hex}")
    try:
        yield tmp
        tf.io.gfile.rename(tmp, path, overwrite=True)
    finally:
        if tf.io.gfile.exists(tmp):
            tf.io.gfile.remove(tmp)


def save_npz(path: str | os.PathLike, compress: bool = False, **arrays) -> None:
    """Writes an `.npz` (readable by `np.load`) atomically and byte-reproducibly.

    `np.savez` stamps each member with the current time, so the same arrays
    give different bytes on every run; here every member gets a fixed date and
    the members are written in sorted order.
    """
    import io
    import zipfile

    import numpy as np

    packed = io.BytesIO()  # zipfile needs a seekable file; gfile (e.g. GCS) writes are streams
    with zipfile.ZipFile(packed, "w") as archive:
        for name in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asanyarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            archive.writestr(info, buffer.getvalue())
    with atomic_path(path) as tmp:
        with tf.io.gfile.GFile(tmp, "wb") as f:
            f.write(packed.getvalue())


def load_npz_arrays(path: str | os.PathLike) -> dict:
    """All arrays of an `.npz` on any filesystem tf.io.gfile knows (local, GCS, ...).

    Raises whatever numpy raises for a damaged archive; callers turn that
    into their own error naming the file.
    """
    import io

    import numpy as np

    with tf.io.gfile.GFile(str(path), "rb") as f:
        data = f.read()
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        return {key: arrays[key] for key in arrays.files}


def read_json(path: str | os.PathLike):
    """Parses a JSON file on any filesystem tf.io.gfile knows."""
    import json

    with tf.io.gfile.GFile(str(path)) as f:
        return json.load(f)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Writes a text file atomically."""
    with atomic_path(path) as tmp:
        with tf.io.gfile.GFile(tmp, "w") as f:
            f.write(text)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Writes `data` atomically to `path` on any filesystem tf.io.gfile knows (local, GCS, ...)."""
    with atomic_path(path) as tmp:
        with tf.io.gfile.GFile(tmp, "wb") as f:
            f.write(data)


def file_exists(path: str | os.PathLike) -> bool:
    """Whether `path` exists, on any filesystem tf.io.gfile knows."""
    return tf.io.gfile.exists(os.fspath(path))


def read_bytes(path: str | os.PathLike) -> bytes:
    """The bytes of a file on any filesystem tf.io.gfile knows."""
    with tf.io.gfile.GFile(str(path), "rb") as f:
        return f.read()


def is_uri(path: str | os.PathLike) -> bool:
    """Whether `path` names a file through a URI scheme (gs://, s3://, ram://) rather than a local path."""
    return "://" in os.fspath(path)


def absolute(path: str | os.PathLike) -> str:
    """`path` made absolute when it is local; URIs (gs://bucket/...) are returned as they are."""
    return os.fspath(path) if is_uri(path) else os.path.abspath(path)


def project_root() -> Path:
    """The repository root (where the Makefile lives)."""
    return Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """The project's cache folder ($HEADSYNTH_CACHE or `<repo>/.cache/headsynth`)."""
    return Path(os.environ.get("HEADSYNTH_CACHE", project_root() / ".cache" / "headsynth"))
