"""TensorBoard logs beyond Keras' own: hyperparameters, input images, and re-rendered predictions.

Runs under the log directory:
    hparams/  the hyperparameters (HParams dashboard) with the final losses.
    inputs/   a few input images as the network sees them (before mean subtraction).
    renders/  for a few eval examples: input | render of the predicted q |
              render of the true q, side by side (the paper's Fig. 9).
"""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api

from headsynth.components.rendering.renderer import HeadRenderer
from headsynth.components.rendering.scenarios import get_scenario
from headsynth.components.training.inputs import make_dataset
from headsynth.components.training.settings import TrainSettings
from headsynth.morphable.model import MorphableModel


def log_hyperparameters(log_dir: str, settings: TrainSettings) -> None:
    """Writes the training settings, in one level, to the HParams dashboard (run `hparams`)."""
    writer = tf.summary.create_file_writer(os.path.join(log_dir, "hparams"))
    with writer.as_default():
        hparams_api.hparams(
            {
                k: v if isinstance(v, (bool, int, float, str)) else str(v)
                for k, v in settings.flat_dict().items()
            }
        )
    writer.flush()


def log_final_metrics(log_dir: str, result: dict, step: int) -> None:
    """Final losses in the `hparams` run, so the HParams table can compare runs."""
    writer = tf.summary.create_file_writer(os.path.join(log_dir, "hparams"))
    with writer.as_default(step=step):
        for key in ("train_loss", "val_loss"):
            tf.summary.scalar(f"hparams/{key}", result[key])
    writer.flush()


def log_input_images(log_dir: str, dataset: tf.data.Dataset, count: int = 8) -> None:
    """A few input images (run `inputs`)."""
    writer = tf.summary.create_file_writer(os.path.join(log_dir, "inputs"))
    images, _ = next(iter(dataset.take(1)))
    with writer.as_default():
        tf.summary.image("training_inputs", images[:count] / 255.0, step=0, max_outputs=count)
    writer.flush()


def prediction_panels(
    model: keras.Model,
    face_model: MorphableModel,
    scale: float,
    images: np.ndarray,
    q_true: np.ndarray,
    seed: int = 0,
) -> np.ndarray:
    """`[B, S, 3S, 3]` float panels in [0, 1]: input | predicted render | true render.

    Renders use scenario "none" (fixed pose, light and gray background) so
    the two renders differ only in q.
    """
    images = np.asarray(images, np.float32)
    size = images.shape[1]
    q_pred = model.predict(images, verbose=0)
    renderer = HeadRenderer(face_model, size, scale)
    scenario = get_scenario("none")
    factors = [scenario.sample(seed, "eval", i) for i in range(len(images))]
    predicted = renderer.render(q_pred, factors).images.astype(np.float32)
    true = renderer.render(np.asarray(q_true, np.float32), factors).images.astype(np.float32)
    return np.concatenate([images, predicted, true], axis=2) / 255.0


def log_prediction_renders(
    log_dir: str,
    model: keras.Model,
    face_model: MorphableModel,
    scale: float,
    eval_files: str | list[str],
    image_size: int,
    count: int,
    step: int,
) -> None:
    """Panels of `prediction_panels` for the first `count` eval examples (run `renders`)."""
    dataset = make_dataset(eval_files, face_model.num_parameters, image_size, count, False, repeat=False)
    images, q_true = next(iter(dataset))
    panels = prediction_panels(model, face_model, scale, images.numpy(), q_true.numpy())
    writer = tf.summary.create_file_writer(os.path.join(log_dir, "renders"))
    with writer.as_default(step=step):
        tf.summary.image("eval/input_predicted_true", panels, max_outputs=count)
    writer.flush()
