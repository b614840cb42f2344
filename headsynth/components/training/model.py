"""The regressor and how it is optimised: network, input normalisation, schedule, optimizer, strategy."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from headsynth.components.training.settings import TrainSettings
from headsynth.config import TrainingConfig
from headsynth.models.backbones import ImagePreprocessing, build_backbone, get_preset
from headsynth.models.pretrained import load_stem_weights
from headsynth.models.regressor import ParameterRegressor, configure_stem


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


def input_preprocessing(training: TrainingConfig) -> ImagePreprocessing | None:
    """The normalisation pretrained stem weights expect, or None: the mean image comes from the data.

    A backbone whose weights ship with it (facemesh) is pretrained without `stem_weights`.
    """
    preset = get_preset(training.backbone)
    if not training.stem_weights and not preset.builtin_weights:
        return None
    return preset.preprocessing


def build_regressor(settings: TrainSettings, num_parameters: int) -> ParameterRegressor:
    """The regressor of `settings`: backbone (pretrained if asked), head, stem mode applied.

    The head's output is scaled by `settings.output_scale` (the sampler's range
    for the tanh head). With pretrained stem weights the input is normalised the way those
    weights expect (the paper subtracts its network's mean image); otherwise
    the mean image is a placeholder that `train_regressor` sets from data.

    Raises:
        ValueError: for an unknown backbone/head or a block index the backbone lacks.
        PretrainedWeightsError: for stem weights that cannot be found or fit.
    """
    training, size = settings.training, settings.image_size
    backbone = build_backbone(training.backbone, size)
    if training.stem_weights:
        load_stem_weights(backbone, training.backbone, training.stem_weights)
    preprocessing = input_preprocessing(training)
    output_scale = settings.output_scale
    if preprocessing is None:
        model = ParameterRegressor(
            backbone, num_parameters, training.head, size, output_scale=output_scale, name="regressor"
        )
    else:
        model = ParameterRegressor(
            backbone,
            num_parameters,
            training.head,
            size,
            channel_order=preprocessing.channel_order,
            input_scale=preprocessing.scale,
            output_scale=output_scale,
            name="regressor",
        )
        model.preprocess.mean_image.assign(np.broadcast_to(np.float32(preprocessing.mean), (size, size, 3)))
    configure_stem(model, training.stem_mode, training.stem_train_from_block)
    return model


def make_schedule(training: TrainingConfig) -> CaffeInvDecay:
    """Caffe's "inv" learning-rate schedule of `training`."""
    return CaffeInvDecay(training.base_learning_rate, training.lr_gamma, training.lr_power)


def make_optimizer(training: TrainingConfig) -> keras.optimizers.Optimizer:
    """SGD with momentum (or Adam), both on Caffe's "inv" schedule."""
    schedule = make_schedule(training)
    if training.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=schedule, momentum=training.momentum)
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
