"""Training the regressor: the TFX Trainer's run function and the library behind it.

The Trainer names `headsynth.components.training.trainer.run_fn` by import
path (no module file). `train_regressor` can be called without TFX.

Per run: tf.data input from the rendered TFRecords (parallel decode,
prefetch), mean-image subtraction inside the model, the squared-euclidean
loss on q, SGD with momentum and Caffe's "inv" schedule (or Adam), a
tf.distribute strategy from the config, checkpoints, TensorBoard logs, and
the SavedModel export.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from headsynth.components.face_model.morphable_model import MorphableModel, load_npz
from headsynth.config import TrainingConfig
from headsynth.data_schemas import features
from headsynth.models.backbones import ImagePreprocessing, build_backbone, get_preset
from headsynth.models.pretrained import load_stem_weights
from headsynth.models.regressor import ParameterRegressor, configure_stem, squared_euclidean_loss


@dataclass(frozen=True)
class TrainSettings(TrainingConfig):
    """The training section of the config plus what the data fixes: the Trainer's custom_config.

    Attributes:
        image_size: input side in pixels (the rendered images').
        scale: p = scale * sigma * q the examples were rendered with; used
            for the exported mesh and the TensorBoard renders. `run_fn` reads
            it from the examples' `render.json`.
    """

    image_size: int = 64
    scale: float = 1.6

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


# --- Input ----------------------------------------------------------------------------------------


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


# --- Model and optimiser --------------------------------------------------------------------------


def input_preprocessing(settings: TrainSettings) -> ImagePreprocessing | None:
    """The normalisation pretrained stem weights expect, or None: the mean image comes from the data."""
    if not settings.stem_weights:
        return None
    return get_preset(settings.backbone).preprocessing


def build_regressor(settings: TrainSettings, num_parameters: int) -> ParameterRegressor:
    """The regressor of `settings`: backbone (pretrained if asked), head, stem mode applied.

    With pretrained stem weights the input is normalised the way those
    weights expect (the paper subtracts its network's mean image); otherwise
    the mean image is a placeholder that `train_regressor` sets from data.

    Raises:
        ValueError: for an unknown backbone/head or a block index the backbone lacks.
        PretrainedWeightsError: for stem weights that cannot be found or fit.
    """
    backbone = build_backbone(settings.backbone, settings.image_size)
    if settings.stem_weights:
        load_stem_weights(backbone, settings.backbone, settings.stem_weights)
    preprocessing = input_preprocessing(settings)
    if preprocessing is None:
        model = ParameterRegressor(
            backbone, num_parameters, settings.head, settings.image_size, name="regressor"
        )
    else:
        model = ParameterRegressor(
            backbone,
            num_parameters,
            settings.head,
            settings.image_size,
            channel_order=preprocessing.channel_order,
            input_scale=preprocessing.scale,
            name="regressor",
        )
        size = settings.image_size
        model.preprocess.mean_image.assign(np.broadcast_to(np.float32(preprocessing.mean), (size, size, 3)))
    configure_stem(model, settings.stem_mode, settings.stem_train_from_block)
    return model


def make_schedule(settings: TrainSettings) -> CaffeInvDecay:
    """Caffe's "inv" learning-rate schedule of `settings`."""
    return CaffeInvDecay(settings.base_learning_rate, settings.lr_gamma, settings.lr_power)


def make_optimizer(settings: TrainSettings) -> keras.optimizers.Optimizer:
    """SGD with momentum (or Adam), both on Caffe's "inv" schedule."""
    schedule = make_schedule(settings)
    if settings.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=schedule, momentum=settings.momentum)
    return keras.optimizers.Adam(learning_rate=schedule)


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The tf.distribute strategy named in the config.

    Raises:
        ValueError: for an unknown name.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "one_device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    raise ValueError(
        f"`distribution` must be default, mirrored or one_device. Received: distribution={name!r}"
    )


# --- Callbacks ------------------------------------------------------------------------------------


class _StepCounter(keras.callbacks.Callback):
    """Counts optimiser steps on the host: reading `optimizer.iterations` every batch would sync the device."""

    def on_train_begin(self, logs=None):
        self.step = int(self.model.optimizer.iterations.numpy())

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1


class StopAtStep(_StepCounter):
    """Stops training after exactly `steps` optimiser steps (the last epoch may be short)."""

    def __init__(self, steps: int) -> None:
        super().__init__()
        self.steps = steps

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        if self.step >= self.steps:
            self.model.stop_training = True


class LearningRateLogger(_StepCounter):
    """Writes the learning rate to TensorBoard (run `train`) every `every` steps and at epoch ends."""

    def __init__(
        self, log_dir: str, every: int, schedule: keras.optimizers.schedules.LearningRateSchedule
    ) -> None:
        super().__init__()
        self._writer = tf.summary.create_file_writer(os.path.join(log_dir, "train"))
        self._every = max(1, every)
        self._schedule = schedule

    def _write(self) -> None:
        with self._writer.as_default(step=self.step):
            tf.summary.scalar("learning_rate", float(self._schedule(self.step)))

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        if self.step % self._every == 0:
            self._write()

    def on_epoch_end(self, epoch, logs=None):
        self._write()
        self._writer.flush()


# --- Cached stem features -------------------------------------------------------------------------


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


def _cached_dataset(
    values: tuple[np.ndarray, np.ndarray], batch_size: int, seed: int, train: bool
) -> tf.data.Dataset:
    dataset = tf.data.Dataset.from_tensor_slices(values)
    if train:
        dataset = dataset.shuffle(len(values[0]), seed=seed, reshuffle_each_iteration=True).repeat()
    return dataset.batch(batch_size, drop_remainder=train).prefetch(tf.data.AUTOTUNE)


# --- Training -------------------------------------------------------------------------------------


def train_regressor(
    train_files: str | list[str],
    eval_files: str | list[str],
    face_model: MorphableModel,
    settings: TrainSettings,
    serving_model_dir: str,
    log_dir: str,
    backup_dir: str | None = None,
) -> dict:
    """Trains the regressor, writes TensorBoard logs and checkpoints, and exports the SavedModel.

    Writes under `log_dir`: TensorBoard runs `train`, `validation`, `hparams`
    and `renders`; `checkpoints/`; `regressor.keras` (the Keras model) and
    `training_result.json`.

    With `backup_dir`, the model and optimizer state are backed up at every
    epoch end; a run killed midway and started again with the same
    `backup_dir` resumes from the last backup (Keras' BackupAndRestore), and
    the backup is deleted when training completes.

    Returns:
        Final training and validation loss, steps trained, and trainable /
        total parameter counts.
    """
    from headsynth.components.training import summaries
    from headsynth.components.training.export import export_serving_model

    keras.utils.set_random_seed(settings.seed)
    if settings.deterministic:
        tf.config.experimental.enable_op_determinism()
    strategy = make_strategy(settings.distribution)
    m = face_model.num_parameters
    train_ds = make_dataset(train_files, m, settings.image_size, settings.batch_size, True, settings.seed)
    eval_ds = make_dataset(eval_files, m, settings.image_size, settings.batch_size, False, settings.seed)
    with strategy.scope():
        model = build_regressor(settings, m)
        if input_preprocessing(settings) is None:
            # Not from train_ds: the iterations of a reshuffling dataset share one seed generator,
            # and read-ahead past take() would advance it by a timing-dependent number of epochs,
            # so fit's batch order would change from run to run.
            mean_input = make_dataset(
                train_files, m, settings.image_size, settings.batch_size, False, repeat=False
            )
            with naming_corrupt_shards(train_files):
                model.preprocess.mean_image.assign(
                    mean_image(mean_input, batches=max(1, 512 // settings.batch_size))
                )
        optimizer = make_optimizer(settings)
    summaries.log_hyperparameters(log_dir, settings)
    summaries.log_input_images(log_dir, eval_ds)

    steps_per_epoch = min(settings.steps_per_epoch, settings.train_steps)
    epochs = math.ceil(settings.train_steps / steps_per_epoch)
    update_freq = max(1, steps_per_epoch // 10)
    checkpoint_name = "head_latest.weights.h5" if settings.cache_stem_features else "latest.weights.h5"
    resumed_from_step = backed_up_epochs(backup_dir) * steps_per_epoch if backup_dir else 0
    callbacks = [
        # First: it restores the optimizer's step count that the step counters below read.
        # double_checkpoint keeps the previous backup in case a kill lands mid-write.
        *(
            [keras.callbacks.BackupAndRestore(backup_dir, save_freq="epoch", double_checkpoint=True)]
            if backup_dir
            else []
        ),
        keras.callbacks.TensorBoard(log_dir=log_dir, update_freq=update_freq),
        LearningRateLogger(log_dir, update_freq, make_schedule(settings)),
        keras.callbacks.ModelCheckpoint(
            os.path.join(log_dir, "checkpoints", checkpoint_name), save_weights_only=True
        ),
        StopAtStep(settings.train_steps),
    ]
    if settings.cache_stem_features:
        if settings.stem_mode != "frozen":
            raise ValueError(
                f"`cache_stem_features` needs a frozen stem. Received: stem_mode={settings.stem_mode!r}"
            )
        # A frozen stem maps each example to the same features every epoch: compute them once.
        train_cache = compute_stem_features(
            model,
            make_dataset(train_files, m, settings.image_size, settings.batch_size, False, repeat=False),
        )
        eval_cache = compute_stem_features(model, eval_ds.take(settings.eval_steps))
        fitted = model.head_model
        train_input = _cached_dataset(train_cache, settings.batch_size, settings.seed, train=True)
        eval_input = _cached_dataset(eval_cache, settings.batch_size, settings.seed, train=False)
        validation_steps = None
    else:
        fitted, train_input, eval_input, validation_steps = model, train_ds, eval_ds, settings.eval_steps
    with strategy.scope():
        fitted.compile(optimizer=optimizer, loss=squared_euclidean_loss)
    with naming_corrupt_shards(train_files, eval_files):
        history = fitted.fit(
            train_input,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            validation_data=eval_input,
            validation_steps=validation_steps,
            callbacks=callbacks,
            verbose=2,
        )
    steps = int(optimizer.iterations.numpy())
    result = {
        "train_loss": float(history.history["loss"][-1]),
        "val_loss": float(history.history["val_loss"][-1]),
        "train_steps": steps,
        "resumed_from_step": resumed_from_step,
        "trainable_parameters": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
        "parameters": int(model.count_params()),
    }
    summaries.log_final_metrics(log_dir, result, steps)
    if settings.log_renders:
        summaries.log_prediction_renders(
            log_dir,
            model,
            face_model,
            settings.scale,
            eval_files,
            settings.image_size,
            settings.log_renders,
            steps,
        )
    export_serving_model(model, face_model, serving_model_dir, scale=settings.scale)
    model.save(os.path.join(log_dir, "regressor.keras"))  # the Keras model, for fine-tuning and tests
    tf.io.gfile.makedirs(log_dir)
    with tf.io.gfile.GFile(os.path.join(log_dir, "training_result.json"), "w") as f:
        f.write(json.dumps(result, indent=2))
    return result


@contextlib.contextmanager
def naming_corrupt_shards(*patterns: str | list[str]):
    """Turns TensorFlow's DataLossError into a DataError naming the corrupt shard."""
    from headsynth.data_schemas.shards import find_corrupt_shard

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


def backed_up_epochs(backup_dir: str) -> int:
    """Epochs completed by the backup in `backup_dir` (0 when there is none)."""
    state = os.path.join(backup_dir, "training_metadata.json")
    if not tf.io.gfile.exists(state):
        return 0
    with tf.io.gfile.GFile(state) as f:
        return int(json.load(f).get("epoch", 0))


def backup_dir_for(backup_root: str, train_files: list[str], settings: TrainSettings) -> str:
    """A backup folder that is the same for the same data and settings, across TFX executions."""
    key = json.dumps({"files": sorted(train_files), "settings": dataclasses.asdict(settings)}, sort_keys=True)
    return os.path.join(backup_root, hashlib.sha256(key.encode()).hexdigest()[:16])


# --- TFX ------------------------------------------------------------------------------------------


def examples_root(file_pattern: str) -> str:
    """The Examples artifact directory of a `.../Split-<name>/*` pattern."""
    return os.path.dirname(os.path.dirname(file_pattern))


def rendered_scale(root: str) -> float | None:
    """The scale the examples under `root` were rendered with (from `render.json`), if recorded."""
    path = os.path.join(root, "render.json")
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        scale = json.load(f).get("job", {}).get("scale")
    return None if scale is None else float(scale)


def run_fn(fn_args) -> None:
    """TFX Trainer entry point (GenericExecutor); hyperparameters come from custom_config.

    The face model is `<examples>/face_model.npz`; the scale is the one the
    examples were rendered with (their `render.json`), so the exported mesh
    matches the renders whatever custom_config says.
    """
    config = dict(fn_args.custom_config or {})
    config["train_steps"] = fn_args.train_steps
    config["eval_steps"] = fn_args.eval_steps
    root = examples_root(fn_args.train_files[0])
    scale = rendered_scale(root)
    if scale is not None:
        config["scale"] = scale
    settings = TrainSettings.from_dict(config)
    face_model = load_npz(os.path.join(root, "face_model.npz"))
    backup_root = config.get("backup_root")
    train_regressor(
        fn_args.train_files,
        fn_args.eval_files,
        face_model,
        settings,
        fn_args.serving_model_dir,
        fn_args.model_run_dir,
        backup_dir=backup_dir_for(backup_root, list(fn_args.train_files), settings) if backup_root else None,
    )
