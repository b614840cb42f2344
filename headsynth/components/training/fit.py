"""Training the regressor without TFX: `train_regressor`, its callbacks and its backups.

Per run: the tf.data input of `inputs`, the model, schedule, optimizer and
strategy of `model`, Keras' fit with checkpoints, TensorBoard logs and
backups, then the logs of `summaries` and the SavedModel of `export`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from headsynth.components.training import summaries
from headsynth.components.training.export import export_serving_model
from headsynth.components.training.inputs import (
    cached_dataset,
    compute_stem_features,
    make_dataset,
    naming_corrupt_shards,
    training_mean_image,
)
from headsynth.components.training.model import (
    build_regressor,
    input_preprocessing,
    make_optimizer,
    make_schedule,
    make_strategy,
)
from headsynth.components.training.settings import TrainSettings
from headsynth.config import TrainingConfig
from headsynth.models.heads import FeatureStandardization
from headsynth.models.regressor import ParameterRegressor, squared_euclidean_loss
from headsynth.morphable.model import MorphableModel

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


class InferenceModeTrainingLoss(_StepCounter):
    """Adds `train_inference_loss` to each epoch's logs: the loss on fixed training batches in inference mode.

    Keras' own training loss is averaged over the epoch in training mode
    (BatchNormalization on batch statistics, the weights still changing);
    this one is measured like the validation loss, so the two show
    over-fitting and nothing else. Also records the step of each epoch end.
    """

    def __init__(self, probe: tf.data.Dataset) -> None:
        super().__init__()
        self._probe = probe
        self._predict = None
        self.steps: list[int] = []

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._predict = tf.function(lambda x: self.model(x, training=False))

    def on_epoch_end(self, epoch, logs=None):
        total, count = 0.0, 0
        for inputs, targets in self._probe:
            errors = tf.reduce_sum(tf.square(self._predict(inputs) - targets), axis=-1)
            total += float(tf.reduce_sum(errors))
            count += int(errors.shape[0])
        if logs is not None and count:
            logs["train_inference_loss"] = total / count
        self.steps.append(self.step)


# --- Backups --------------------------------------------------------------------------------------


def backed_up_epochs(backup_dir: str) -> int:
    """Epochs completed by the backup in `backup_dir` (0 when there is none)."""
    state = os.path.join(backup_dir, "training_metadata.json")
    if not tf.io.gfile.exists(state):
        return 0
    with tf.io.gfile.GFile(state) as f:
        return int(json.load(f).get("epoch", 0))


def backup_dir_for(backup_root: str, train_files: list[str], settings: TrainSettings) -> str:
    """A backup folder that is the same for the same data and settings, across TFX executions."""
    key = json.dumps({"files": sorted(train_files), "settings": settings.flat_dict()}, sort_keys=True)
    return os.path.join(backup_root, hashlib.sha256(key.encode()).hexdigest()[:16])


# --- Training -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EpochPlan:
    """How `train_steps` are cut into Keras epochs.

    Attributes:
        steps_per_epoch: steps between validation and checkpoint passes.
        epochs: enough epochs for `train_steps` (`StopAtStep` ends the last one early).
        update_freq: steps between TensorBoard and learning-rate log points.
    """

    steps_per_epoch: int
    epochs: int
    update_freq: int

    @classmethod
    def of(cls, training: TrainingConfig) -> EpochPlan:
        steps_per_epoch = min(training.steps_per_epoch, training.train_steps)
        return cls(
            steps_per_epoch=steps_per_epoch,
            epochs=math.ceil(training.train_steps / steps_per_epoch),
            update_freq=max(1, steps_per_epoch // 10),
        )


def make_callbacks(
    training: TrainingConfig,
    plan: EpochPlan,
    log_dir: str,
    backup_dir: str | None,
    probe: InferenceModeTrainingLoss,
) -> list[keras.callbacks.Callback]:
    """Backups (with `backup_dir`), the inference-mode training loss, TensorBoard, learning-rate logs,
    checkpoints and the step limit."""
    checkpoint_name = "head_latest.weights.h5" if training.cache_stem_features else "latest.weights.h5"
    return [
        # First: it restores the optimizer's step count that the step counters below read.
        # double_checkpoint keeps the previous backup in case a kill lands mid-write.
        *(
            [keras.callbacks.BackupAndRestore(backup_dir, save_freq="epoch", double_checkpoint=True)]
            if backup_dir
            else []
        ),
        probe,  # before TensorBoard, which then logs its loss with the epoch's others
        keras.callbacks.TensorBoard(log_dir=log_dir, update_freq=plan.update_freq),
        LearningRateLogger(log_dir, plan.update_freq, make_schedule(training)),
        keras.callbacks.ModelCheckpoint(
            os.path.join(log_dir, "checkpoints", checkpoint_name), save_weights_only=True
        ),
        StopAtStep(training.train_steps),
    ]


@dataclass(frozen=True)
class FitInputs:
    """What Keras' fit trains on: the whole regressor on images, or its head on cached stem features."""

    fitted: keras.Model
    train: tf.data.Dataset
    eval: tf.data.Dataset
    validation_steps: int | None
    train_probe: tf.data.Dataset


def fit_inputs(
    model: ParameterRegressor,
    settings: TrainSettings,
    train_files: str | list[str],
    num_parameters: int,
    train_ds: tf.data.Dataset,
    eval_ds: tf.data.Dataset,
) -> FitInputs:
    """The model to fit and its data; with `cache_stem_features`, the head on the frozen stem's features.

    Raises:
        ValueError: for `cache_stem_features` without a frozen stem.
    """
    training = settings.training
    if not training.cache_stem_features:
        probe = make_dataset(
            train_files, num_parameters, settings.image_size, training.batch_size, False, repeat=False
        ).take(training.eval_steps)
        if training.stem_mode == "frozen" and has_feature_standardization(model.head_model):
            # A frozen stem's features are what the head sees every step. A trained stem's are not
            # (its batch statistics and weights move), so its head keeps the identity.
            standardize_head_inputs(model.head_model, compute_stem_features(model, probe)[0])
        return FitInputs(model, train_ds, eval_ds, training.eval_steps, probe)
    if training.stem_mode != "frozen":
        raise ValueError(
            f"`cache_stem_features` needs a frozen stem. Received: stem_mode={training.stem_mode!r}"
        )
    # A frozen stem maps each example to the same features every epoch: compute them once.
    train_cache = compute_stem_features(
        model,
        make_dataset(
            train_files, num_parameters, settings.image_size, training.batch_size, False, repeat=False
        ),
    )
    eval_cache = compute_stem_features(model, eval_ds.take(training.eval_steps))
    standardize_head_inputs(model.head_model, train_cache[0])
    return FitInputs(
        model.head_model,
        cached_dataset(train_cache, training.batch_size, training.seed, train=True),
        cached_dataset(eval_cache, training.batch_size, training.seed, train=False),
        None,
        cached_dataset(train_cache, training.batch_size, training.seed, train=False).take(
            training.eval_steps
        ),
    )


def has_feature_standardization(head: keras.Model) -> bool:
    """Whether the head standardises its input features (the "mlp" head does)."""
    return any(isinstance(layer, FeatureStandardization) for layer in head.layers)


def standardize_head_inputs(head: keras.Model, features: np.ndarray) -> None:
    """Sets the head's `FeatureStandardization` (the "mlp" head has one) from `[N, F]` training features."""
    for layer in head.layers:
        if isinstance(layer, FeatureStandardization):
            layer.set_statistics(features)


def prepare_model(
    settings: TrainSettings,
    strategy: tf.distribute.Strategy,
    train_files: str | list[str],
    num_parameters: int,
) -> tuple[ParameterRegressor, keras.optimizers.Optimizer]:
    """The regressor (its mean image from the data unless pretrained weights fix the input) and its optimizer."""
    training = settings.training
    with strategy.scope():
        model = build_regressor(settings, num_parameters)
        if input_preprocessing(training) is None:
            mean = training_mean_image(train_files, num_parameters, settings.image_size, training.batch_size)
            if training.input_mean == "channel":
                mean = np.broadcast_to(mean.mean(axis=(0, 1)), mean.shape).astype(np.float32)
            model.preprocess.mean_image.assign(mean)
        return model, make_optimizer(training)


def training_result(
    history: keras.callbacks.History,
    optimizer: keras.optimizers.Optimizer,
    model: ParameterRegressor,
    resumed_from_step: int,
) -> dict:
    """Final losses (Keras' training-mode one and the inference-mode one), steps trained (and resumed
    from), and trainable / total parameter counts."""
    return {
        "train_loss": float(history.history["loss"][-1]),
        "train_inference_loss": float(history.history.get("train_inference_loss", [np.nan])[-1]),
        "val_loss": float(history.history["val_loss"][-1]),
        "train_steps": int(optimizer.iterations.numpy()),
        "resumed_from_step": resumed_from_step,
        "trainable_parameters": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
        "parameters": int(model.count_params()),
    }


def learning_curves(history: keras.callbacks.History, steps: list[int]) -> dict[str, list[float]]:
    """Per epoch end (of this run; a resumed run's earlier epochs are not in it): the step, Keras' training
    loss (training mode, averaged over the epoch), the inference-mode training loss and the validation loss."""
    return {
        "step": [float(s) for s in steps],
        "train_loss": [float(v) for v in history.history.get("loss", [])],
        "train_inference_loss": [float(v) for v in history.history.get("train_inference_loss", [])],
        "val_loss": [float(v) for v in history.history.get("val_loss", [])],
    }


def write_outputs(
    model: ParameterRegressor,
    face_model: MorphableModel,
    settings: TrainSettings,
    result: dict,
    eval_files: str | list[str],
    serving_model_dir: str,
    log_dir: str,
    framing: str = "full",
) -> None:
    """Final TensorBoard logs, the SavedModel, `regressor.keras` and `training_result.json`."""
    steps = result["train_steps"]
    summaries.log_final_metrics(log_dir, result, steps)
    if settings.training.log_renders:
        summaries.log_prediction_renders(
            log_dir,
            model,
            face_model,
            settings.scale,
            eval_files,
            settings.image_size,
            settings.training.log_renders,
            steps,
        )
    export_serving_model(model, face_model, serving_model_dir, scale=settings.scale, framing=framing)
    model.save(os.path.join(log_dir, "regressor.keras"))  # the Keras model, for fine-tuning and tests
    tf.io.gfile.makedirs(log_dir)
    with tf.io.gfile.GFile(os.path.join(log_dir, "training_result.json"), "w") as f:
        f.write(json.dumps(result, indent=2))


def train_regressor(
    train_files: str | list[str],
    eval_files: str | list[str],
    face_model: MorphableModel,
    settings: TrainSettings,
    serving_model_dir: str,
    log_dir: str,
    backup_dir: str | None = None,
    framing: str = "full",
) -> dict:
    """Trains the regressor, writes TensorBoard logs and checkpoints, and exports the SavedModel.

    `framing` is how the training images were framed ("full" or "face"); the
    SavedModel records it (see `export_serving_model`).

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
    training = settings.training
    keras.utils.set_random_seed(training.seed)
    if training.deterministic:
        tf.config.experimental.enable_op_determinism()
    strategy = make_strategy(training.distribution)
    m, size, batch_size = face_model.num_parameters, settings.image_size, training.batch_size
    train_ds = make_dataset(train_files, m, size, batch_size, True, training.seed)
    eval_ds = make_dataset(eval_files, m, size, batch_size, False, training.seed)
    model, optimizer = prepare_model(settings, strategy, train_files, m)
    summaries.log_hyperparameters(log_dir, settings)
    summaries.log_input_images(log_dir, eval_ds)

    plan = EpochPlan.of(training)
    resumed_from_step = backed_up_epochs(backup_dir) * plan.steps_per_epoch if backup_dir else 0
    inputs = fit_inputs(model, settings, train_files, m, train_ds, eval_ds)
    probe = InferenceModeTrainingLoss(inputs.train_probe)
    callbacks = make_callbacks(training, plan, log_dir, backup_dir, probe)
    with strategy.scope():
        inputs.fitted.compile(optimizer=optimizer, loss=squared_euclidean_loss)
    with naming_corrupt_shards(train_files, eval_files):
        history = inputs.fitted.fit(
            inputs.train,
            epochs=plan.epochs,
            steps_per_epoch=plan.steps_per_epoch,
            validation_data=inputs.eval,
            validation_steps=inputs.validation_steps,
            callbacks=callbacks,
            shuffle=False,  # the dataset shuffles itself; Keras would ignore True and warn
            verbose=2,
        )
    result = training_result(history, optimizer, model, resumed_from_step)
    result["curves"] = learning_curves(history, probe.steps)
    write_outputs(model, face_model, settings, result, eval_files, serving_model_dir, log_dir, framing)
    return result
