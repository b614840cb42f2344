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


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Writes a text file atomically."""
    with atomic_path(path) as tmp:
        with tf.io.gfile.GFile(tmp, "w") as f:
            f.write(text)


def project_root() -> Path:
    """The repository root (where the Makefile lives)."""
    return Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """The project's cache folder ($HEADSYNTH_CACHE or `<repo>/.cache/headsynth`)."""
    return Path(os.environ.get("HEADSYNTH_CACHE", project_root() / ".cache" / "headsynth"))
