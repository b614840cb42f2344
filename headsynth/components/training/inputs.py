"""The regressor's input: tf.data pipelines over the rendered TFRecord shards.

Decoding, the (images, q) datasets, the mean image's own pass, the cached
stem features of a frozen stem, and the DataError that names a corrupt shard.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import tensorflow as tf

from headsynth.data_schemas import features
from headsynth.data_schemas.shards import find_corrupt_shard
from headsynth.models.regressor import ParameterRegressor

# Examples the mean image is taken over (fewer when the training set is smaller).
MEAN_IMAGE_EXAMPLES = 512


def decode_images(encoded: tf.Tensor, image_size: int) -> tf.Tensor:
    """`[B]` encoded PNG/JPEG -> `[B, S, S, 3]` float32 in 0..255 (resized if needed)."""

    def decode_one(data):
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
        image = tf.image.resize(tf.cast(image, tf.float32), [image_size, image_size], antialias=True)
        return tf.ensure_shape(image, [image_size, image_size, 3])

    return tf.map_fn(
        decode_one, encoded, fn_output_signature=tf.TensorSpec([image_size, image_size, 3], tf.float32)
    )


def make_dataset(
    file_pattern: str | list[str],
    num_parameters: int,
    image_size: int,
    batch_size: int,
    shuffle: bool,
    seed: int = 0,
    repeat: bool = True,
) -> tf.data.Dataset:
    """(images `[B, S, S, 3]`, q `[B, m]`) batches from gzipped TFRecord shards, decoded in parallel and prefetched."""
    patterns = [file_pattern] if isinstance(file_pattern, str) else list(file_pattern)
    files = sorted(f for pattern in patterns for f in tf.io.gfile.glob(pattern))
    if not files:
        raise FileNotFoundError(f"No TFRecord files match {patterns}.")
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP", num_parallel_reads=tf.data.AUTOTUNE)
    if shuffle:
        dataset = dataset.shuffle(4096, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    spec = {
        features.IMAGE: tf.io.FixedLenFeature([], tf.string),
        features.PARAMETERS: tf.io.FixedLenFeature([num_parameters], tf.float32),
    }

    def parse(serialized):
        parsed = tf.io.parse_example(serialized, spec)
        return decode_images(parsed[features.IMAGE], image_size), parsed[features.PARAMETERS]

    # Batch before parsing: one vectorised parse_example per batch is cheaper than per record.
    dataset = dataset.batch(batch_size, drop_remainder=repeat).map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.deterministic = True
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)


def mean_image(dataset: tf.data.Dataset, batches: int) -> np.ndarray:
    """Mean `[S, S, 3]` image over the first batches of a dataset."""
    total, count = None, 0
    for images, _ in dataset.take(batches):
        batch_sum = tf.reduce_sum(images, axis=0).numpy()
        total = batch_sum if total is None else total + batch_sum
        count += int(images.shape[0])
    return (total / max(count, 1)).astype(np.float32)


def training_mean_image(
    train_files: str | list[str], num_parameters: int, image_size: int, batch_size: int
) -> np.ndarray:
    """Mean `[S, S, 3]` image of the first `MEAN_IMAGE_EXAMPLES` training examples, in file order.

    Its own unshuffled pass, not the training dataset: the iterations of a
    reshuffling dataset share one seed generator, and read-ahead past take()
    would advance it by a timing-dependent number of epochs, so fit's batch
    order would change from run to run.
    """
    dataset = make_dataset(train_files, num_parameters, image_size, batch_size, False, repeat=False)
    with naming_corrupt_shards(train_files):
        return mean_image(dataset, batches=max(1, MEAN_IMAGE_EXAMPLES // batch_size))


def compute_stem_features(
    model: ParameterRegressor, dataset: tf.data.Dataset
) -> tuple[np.ndarray, np.ndarray]:
    """Runs the (frozen) stem once over a finite dataset: `[N, F]` features and `[N, m]` q."""
    extract = tf.function(lambda images: model.stem_features(images, training=False))
    feature_batches, q_batches = [], []
    for images, q in dataset:
        feature_batches.append(extract(images).numpy())
        q_batches.append(q.numpy())
    if not feature_batches:
        raise ValueError("No examples to compute stem features of.")
    return np.concatenate(feature_batches), np.concatenate(q_batches)


def cached_dataset(
    values: tuple[np.ndarray, np.ndarray], batch_size: int, seed: int, train: bool
) -> tf.data.Dataset:
    """(features `[B, F]`, q `[B, m]`) batches of cached stem features; shuffled and repeated to train."""
    dataset = tf.data.Dataset.from_tensor_slices(values)
    if train:
        dataset = dataset.shuffle(len(values[0]), seed=seed, reshuffle_each_iteration=True).repeat()
    return dataset.batch(batch_size, drop_remainder=train).prefetch(tf.data.AUTOTUNE)


@contextlib.contextmanager
def naming_corrupt_shards(*patterns: str | list[str]) -> Iterator[None]:
    """Turns TensorFlow's DataLossError into a DataError naming the corrupt shard."""
    try:
        yield
    except tf.errors.DataLossError:
        files = sorted(
            f
            for pattern in patterns
            for item in ([pattern] if isinstance(pattern, str) else pattern)
            for f in tf.io.gfile.glob(item)
        )
        error = find_corrupt_shard(files)
        if error is not None:
            raise error from None
        raise
