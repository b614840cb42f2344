"""Training the regressor: the TFX Trainer's run function and the library behind it.

The Trainer names `headsynth.components.training.trainer.run_fn` by import
path (no module file). `train_regressor` can be called without TFX.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

import keras
import numpy as np
import tensorflow as tf

from headsynth.components.face_model.morphable_model import MorphableModel, load_npz
from headsynth.config import TrainingConfig
from headsynth.data_schemas import features
from headsynth.models.backbones import build_backbone
from headsynth.models.regressor import ParameterRegressor, squared_euclidean_loss


@dataclass(frozen=True)
class TrainSettings(TrainingConfig):
    """The training section of the config plus the input size: the Trainer's custom_config."""

    image_size: int = 64

    @classmethod
    def from_dict(cls, values: dict) -> TrainSettings:
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@keras.saving.register_keras_serializable(package="headsynth")
class CaffeInvDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Caffe's "inv" policy: lr = base * (1 + gamma * iteration) ** (-power).

    The paper: base 1e-4, gamma 0.1, power 0.75.
    """

    def __init__(self, base_learning_rate: float, gamma: float, power: float) -> None:
        if base_learning_rate <= 0:
            raise ValueError(f"`base_learning_rate` must be positive. Received: {base_learning_rate}")
        if gamma < 0 or power < 0:
            raise ValueError(f"`gamma` and `power` must be >= 0. Received: gamma={gamma}, power={power}")
        self.base_learning_rate = base_learning_rate
        self.gamma = gamma
        self.power = power

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        return self.base_learning_rate * tf.pow(1.0 + self.gamma * step, -self.power)

    def get_config(self) -> dict:
        return {"base_learning_rate": self.base_learning_rate, "gamma": self.gamma, "power": self.power}


def decode_images(encoded: tf.Tensor, image_size: int) -> tf.Tensor:
    """`[B]` encoded PNG/JPEG -> `[B, S, S, 3]` float32 in 0..255."""

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
    """(images, q) batches from gzipped TFRecord shards, decoded in parallel and prefetched."""
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


def build_regressor(settings: TrainSettings, num_parameters: int) -> ParameterRegressor:
    backbone = build_backbone(settings.backbone, settings.image_size)
    return ParameterRegressor(backbone, num_parameters, settings.head, settings.image_size, name="regressor")


def make_optimizer(settings: TrainSettings) -> keras.optimizers.Optimizer:
    schedule = CaffeInvDecay(settings.base_learning_rate, settings.lr_gamma, settings.lr_power)
    if settings.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=schedule, momentum=settings.momentum)
    return keras.optimizers.Adam(learning_rate=schedule)


class _LearningRateLogger(keras.callbacks.Callback):
    """Writes the learning rate to TensorBoard at the end of each epoch."""

    def __init__(self, log_dir: str) -> None:
        super().__init__()
        self._writer = tf.summary.create_file_writer(os.path.join(log_dir, "train"))

    def on_epoch_end(self, epoch, logs=None):
        optimizer = self.model.optimizer
        step = int(optimizer.iterations.numpy())
        lr = (
            float(optimizer.learning_rate.numpy())
            if hasattr(optimizer.learning_rate, "numpy")
            else float(optimizer.learning_rate)
        )
        with self._writer.as_default(step=step):
            tf.summary.scalar("learning_rate", lr)
        self._writer.flush()


def _log_hyperparameters_and_images(log_dir: str, settings: TrainSettings, dataset: tf.data.Dataset) -> None:
    from tensorboard.plugins.hparams import api as hparams_api

    writer = tf.summary.create_file_writer(os.path.join(log_dir, "hparams"))
    with writer.as_default():
        hparams_api.hparams({k: v for k, v in asdict(settings).items()})
        images, _ = next(iter(dataset.take(1)))
        tf.summary.image("training_inputs", images[:8] / 255.0, step=0, max_outputs=8)
    writer.flush()


def train_regressor(
    train_files: str | list[str],
    eval_files: str | list[str],
    face_model: MorphableModel,
    settings: TrainSettings,
    serving_model_dir: str,
    log_dir: str,
) -> dict[str, float]:
    """Trains the regressor, writes TensorBoard logs and exports the SavedModel.

    Returns:
        Final training loss and validation loss.
    """
    from headsynth.components.training.export import export_serving_model

    keras.utils.set_random_seed(settings.seed)
    m = face_model.num_parameters
    train_ds = make_dataset(train_files, m, settings.image_size, settings.batch_size, True, settings.seed)
    eval_ds = make_dataset(eval_files, m, settings.image_size, settings.batch_size, False, settings.seed)
    model = build_regressor(settings, m)
    model.get_layer("mean_image").mean_image.assign(
        mean_image(train_ds, batches=max(1, 512 // settings.batch_size))
    )
    model.compile(optimizer=make_optimizer(settings), loss=squared_euclidean_loss)
    _log_hyperparameters_and_images(log_dir, settings, eval_ds)
    steps_per_epoch = min(settings.steps_per_epoch, settings.train_steps)
    epochs = max(1, settings.train_steps // steps_per_epoch)
    callbacks = [
        keras.callbacks.TensorBoard(log_dir=log_dir, update_freq=max(1, steps_per_epoch // 10)),
        _LearningRateLogger(log_dir),
        keras.callbacks.ModelCheckpoint(
            os.path.join(log_dir, "checkpoints", "latest.weights.h5"), save_weights_only=True
        ),
    ]
    history = model.fit(
        train_ds,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        validation_data=eval_ds,
        validation_steps=settings.eval_steps,
        callbacks=callbacks,
        verbose=2,
    )
    export_serving_model(model, face_model, serving_model_dir)
    model.save(os.path.join(log_dir, "regressor.keras"))  # the Keras model, for fine-tuning and tests
    result = {
        "train_loss": float(history.history["loss"][-1]),
        "val_loss": float(history.history["val_loss"][-1]),
        "train_steps": int(model.optimizer.iterations.numpy()),
    }
    tf.io.gfile.makedirs(log_dir)
    with tf.io.gfile.GFile(os.path.join(log_dir, "training_result.json"), "w") as f:
        f.write(json.dumps(result, indent=2))
    return result


def examples_root(file_pattern: str) -> str:
    """The Examples artifact directory of a `.../Split-<name>/*` pattern."""
    return os.path.dirname(os.path.dirname(file_pattern))


def run_fn(fn_args) -> None:
    """TFX Trainer entry point (GenericExecutor); hyperparameters come from custom_config."""
    config = dict(fn_args.custom_config or {})
    config["train_steps"] = fn_args.train_steps
    config["eval_steps"] = fn_args.eval_steps
    settings = TrainSettings.from_dict(config)
    root = examples_root(fn_args.train_files[0])
    face_model = load_npz(os.path.join(root, "face_model.npz"))
    train_regressor(
        fn_args.train_files,
        fn_args.eval_files,
        face_model,
        settings,
        fn_args.serving_model_dir,
        fn_args.model_run_dir,
    )
