"""Scalars, figures and text as TensorBoard events (beside the training logs)."""

from __future__ import annotations

import os


def write_summaries(
    log_dir: str,
    scalars: dict[str, float] | None = None,
    images: dict[str, str] | None = None,
    texts: dict[str, str] | None = None,
    step: int = 0,
) -> None:
    """Writes one event file under `log_dir`.

    Args:
        scalars: tag -> value (NaN values are skipped).
        images: tag -> PNG file path (missing files are skipped).
        texts: tag -> markdown text (tables render in TensorBoard's text tab).
        step: the step every summary is written at.
    """
    import math

    import tensorflow as tf

    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default(step=step):
        for tag, value in (scalars or {}).items():
            if value is not None and math.isfinite(float(value)):
                tf.summary.scalar(tag, float(value))
        for tag, path in (images or {}).items():
            if tf.io.gfile.exists(path):
                with tf.io.gfile.GFile(path, "rb") as f:
                    image = tf.io.decode_png(f.read(), channels=3)
                tf.summary.image(os.path.splitext(os.path.basename(tag))[0], image[None], max_outputs=1)
        for tag, text in (texts or {}).items():
            tf.summary.text(tag, text)
    writer.flush()
    writer.close()
