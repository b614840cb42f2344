"""Reading the weights of a `.tflite` file, and finding mediapipe's face landmark model.

TensorFlow's own `tf.lite.Interpreter` exposes every tensor of a model and
its op list, so no extra package is needed: a float16 model keeps each weight
as a float16 constant behind a DEQUANTIZE op, which is read and widened to
float32 here.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from headsynth.core.errors import ConfigError

# Where mediapipe's wheel keeps the face mesh network (mediapipe 0.10.21).
FACE_LANDMARK_TFLITE = os.path.join("modules", "face_landmark", "face_landmark.tflite")


@dataclass(frozen=True)
class TfliteOp:
    """One op of a `.tflite` graph.

    Attributes:
        op_name: TFLite's builtin name ("CONV_2D", "PRELU", ...).
        inputs: names of its input tensors (after DEQUANTIZE: the float16 constant's name).
        outputs: names of its output tensors.
    """

    op_name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def face_landmark_tflite_path() -> str:
    """Path of `face_landmark.tflite` inside the installed mediapipe wheel (mediapipe is not imported).

    Raises:
        ConfigError: if mediapipe is not installed or its wheel lacks the file.
    """
    spec = importlib.util.find_spec("mediapipe")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = os.path.join(folder, FACE_LANDMARK_TFLITE)
        if os.path.isfile(path):
            return path
    raise ConfigError(
        f"mediapipe's face landmark model ({FACE_LANDMARK_TFLITE}) is not installed"
        + (f" (looked in {', '.join(folders)})." if folders else ": mediapipe is missing."),
        "Run `make setup` to install the locked stack (mediapipe==0.10.21).",
    )


def _interpreter(path: str) -> tf.lite.Interpreter:
    # Without the default XNNPACK delegate, whose DELEGATE nodes would join the op list.
    interpreter = tf.lite.Interpreter(
        model_path=path,
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interpreter.allocate_tensors()
    return interpreter


def read_tflite_weights(path: str) -> dict[str, np.ndarray]:
    """Every float16 weight behind a DEQUANTIZE op, as float32, by tensor name ("conv2d_1/Kernel").

    Args:
        path: a `.tflite` file.

    Returns:
        Tensor name -> float32 array in TFLite's layout (conv kernels
        `[out, h, w, in]`, depthwise kernels `[1, h, w, channels]`, PReLU
        alphas `[1, 1, channels]`).
    """
    interpreter = _interpreter(path)
    names = {t["index"]: t["name"] for t in interpreter.get_tensor_details()}
    weights = {}
    for op in interpreter._get_ops_details():
        if op["op_name"] == "DEQUANTIZE":
            index = int(op["inputs"][0])
            weights[names[index]] = np.asarray(interpreter.get_tensor(index), np.float32)
    return weights


def read_tflite_ops(path: str) -> list[TfliteOp]:
    """The graph's ops in execution order, DEQUANTIZE ops folded into their consumers' inputs."""
    interpreter = _interpreter(path)
    names = {t["index"]: t["name"] for t in interpreter.get_tensor_details()}
    details = interpreter._get_ops_details()
    # A dequantized tensor is named after the float16 constant it comes from.
    source = {int(op["outputs"][0]): int(op["inputs"][0]) for op in details if op["op_name"] == "DEQUANTIZE"}
    return [
        TfliteOp(
            op["op_name"],
            tuple(names[source.get(int(i), int(i))] for i in op["inputs"] if i >= 0),
            tuple(names[int(i)] for i in op["outputs"]),
        )
        for op in details
        if op["op_name"] != "DEQUANTIZE"
    ]
