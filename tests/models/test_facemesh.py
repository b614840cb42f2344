"""The `facemesh` backbone: equal to mediapipe's tflite model on real photos, its graph, and as a regressor stem."""

import keras
import numpy as np
import pytest
import skimage.data
import tensorflow as tf
from matplotlib import cbook
from PIL import Image

from headsynth.components.training.model import build_regressor
from headsynth.components.training.settings import TrainSettings
from headsynth.config import TrainingConfig
from headsynth.core.photos import as_rgb_uint8
from headsynth.models.backbones import BACKBONES, FaceMeshBackbone, build_backbone, facemesh_outputs
from headsynth.models.backbones.facemesh import FEATURE_SIZES, PIXEL_INPUT, ChannelPadding
from headsynth.models.backbones.tflite_weights import (
    face_landmark_tflite_path,
    read_tflite_ops,
    read_tflite_weights,
)

# Real photos that ship in installed packages, and a square around each face
# (top, left, side) from mediapipe's detector box, enlarged about 1.6 times.
PHOTO_CROPS = {
    "astronaut": (35, 141, 170),
    "cameraman": (101, 178, 120),
    "grace_hopper": (69, 106, 320),
}


def load_photo(name: str) -> np.ndarray:
    """`[H, W, 3]` uint8 RGB."""
    if name == "astronaut":
        return skimage.data.astronaut()
    if name == "cameraman":
        return as_rgb_uint8(skimage.data.camera())
    with cbook.get_sample_data("grace_hopper.jpg") as file:
        return np.asarray(Image.open(file).convert("RGB"))


def face_crop(name: str, size: int = 192) -> np.ndarray:
    """`[size, size, 3]` float32 pixels in 0..255: the face of a packaged photo."""
    top, left, side = PHOTO_CROPS[name]
    crop = Image.fromarray(load_photo(name)).crop((left, top, left + side, top + side))
    return np.asarray(crop.resize((size, size), Image.BILINEAR), np.float32)


@pytest.fixture(scope="module")
def backbone():
    return build_backbone("facemesh", 192)


@pytest.fixture(scope="module")
def interpreter():
    interpreter = tf.lite.Interpreter(model_path=face_landmark_tflite_path())
    interpreter.allocate_tensors()
    return interpreter


def run_tflite(interpreter, image: np.ndarray) -> dict[str, np.ndarray]:
    """The tflite model on one `[192, 192, 3]` 0..255 image, fed in [0, 1] as mediapipe does."""
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image[None] / np.float32(255.0))
    interpreter.invoke()
    outputs = {o["name"]: interpreter.get_tensor(o["index"]) for o in interpreter.get_output_details()}
    return {"landmarks": outputs["conv2d_21"].reshape(1, -1), "face_flag": outputs["conv2d_31"].reshape(1, 1)}


@pytest.mark.parametrize("photo", sorted(PHOTO_CROPS))
def test_landmarks_equal_the_tflite_interpreter_on_real_photos(backbone, interpreter, photo):
    image = face_crop(photo)
    expected = run_tflite(interpreter, image)
    ours = facemesh_outputs(backbone)(image[None])
    landmarks = np.asarray(ours["landmarks"])
    assert landmarks.shape == expected["landmarks"].shape == (1, 1404)
    value_range = np.ptp(expected["landmarks"])
    assert value_range > 100  # a face spread over the crop, not a degenerate output
    assert np.max(np.abs(landmarks - expected["landmarks"])) <= 1e-3 * value_range
    np.testing.assert_allclose(np.asarray(ours["face_flag"]), expected["face_flag"], atol=1e-3)
    assert expected["face_flag"][0, 0] > 0  # the model sees a face: the framing is right
    # The backbone's own output carries the same landmarks, divided by 192.
    features = np.asarray(backbone(image[None]))
    start = FEATURE_SIZES["pooled_12x12"] + FEATURE_SIZES["map_6x6"]
    np.testing.assert_allclose(features[:, start : start + 1404] * 192, landmarks, rtol=1e-5, atol=1e-4)


def test_other_input_sizes_are_resized_to_192(interpreter):
    # A 384 x 384 input, downscaled inside the model, lands within a pixel or two of the 192 one.
    image = face_crop("astronaut")
    large = np.repeat(np.repeat(image, 2, axis=0), 2, axis=1)
    landmarks = facemesh_outputs(build_backbone("facemesh", 384))(large[None])["landmarks"]
    assert np.max(np.abs(np.asarray(landmarks) - run_tflite(interpreter, image)["landmarks"])) < 2.0


def keras_layers_by_tflite_name(backbone: FaceMeshBackbone) -> dict[str, keras.layers.Layer]:
    """The port's layers under their tflite names (`block3_add_3` -> `add_3`); the input scaling is `input_1`."""
    layers = {"input_1": backbone.get_layer("input_scale")}
    for layer in backbone.layers:
        for block in backbone.block_names:
            if layer.name.startswith(f"{block}_") and not layer.name.endswith("_output"):
                layers[layer.name[len(block) + 1 :]] = layer
    return layers


KERAS_CLASSES = {
    "CONV_2D": keras.layers.Conv2D,
    "DEPTHWISE_CONV_2D": keras.layers.DepthwiseConv2D,
    "PRELU": keras.layers.PReLU,
    "ADD": keras.layers.Add,
    "MAX_POOL_2D": keras.layers.MaxPooling2D,
    "PAD": ChannelPadding,
}


def test_backbone_graph_weights_and_config(backbone, tmp_path):
    path = face_landmark_tflite_path()
    assert backbone.output_shape == (None, 128 + 6 * 6 * 128 + 1404 + 1)
    # Every tflite weight, and nothing else: 604,685 values.
    assert backbone.count_params() == sum(w.size for w in read_tflite_weights(path).values()) == 604_685
    # Op for op, the same graph: each tflite op is a layer of its kind fed by the same tensors.
    layers = keras_layers_by_tflite_name(backbone)
    ops = read_tflite_ops(path)
    assert {op.op_name for op in ops} == set(KERAS_CLASSES)
    for op in ops:
        layer = layers[op.outputs[0]]
        assert isinstance(layer, KERAS_CLASSES[op.op_name]), op
        inputs = layer._inbound_nodes[0].input_tensors
        keras_inputs = sorted(
            name for name, lyr in layers.items() if any(t._keras_history[0] is lyr for t in inputs)
        )
        assert keras_inputs == sorted(name for name in op.inputs if name in layers), op
    assert len(ops) == len(layers) - 1
    assert backbone.block_names[:2] == ["stem", "block1"] and backbone.block_names[-2:] == [
        "landmarks",
        "face_flag",
    ]

    config = backbone.get_config()
    assert config == {
        "name": "facemesh",
        "trainable": True,
        "features": ["pooled_12x12", "map_6x6", "landmarks", "face_flag"],
        "pretrained": True,
        "image_size": 192,
    }
    clone = FaceMeshBackbone.from_config({**config, "pretrained": False})
    assert clone.get_config() == {**config, "pretrained": False}
    assert clone.count_params() == backbone.count_params()
    image = face_crop("grace_hopper")[None]
    backbone.save(tmp_path / "facemesh.keras")
    restored = keras.models.load_model(tmp_path / "facemesh.keras")
    assert isinstance(restored, FaceMeshBackbone)
    np.testing.assert_allclose(np.asarray(restored(image)), np.asarray(backbone(image)), atol=1e-5)

    # Fewer features build only the branches they need.
    pooled = FaceMeshBackbone(features=["pooled_6x6"], pretrained=False, image_size=64)
    assert pooled.output_shape == (None, 128) and pooled.block_names[-1] == "block14"
    assert "landmarks" not in facemesh_outputs(pooled).output


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(features=[]), "Received: features=\\[\\]"),
        (dict(features=["landmarks", "eyes"]), "Received: features=\\['landmarks', 'eyes'\\]"),
        (dict(features=["face_flag", "face_flag"]), "distinct"),
        (dict(pretrained="yes"), "Received: pretrained=yes"),
        (dict(image_size=8), "Received: image_size=8"),
    ],
)
def test_facemesh_validates_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FaceMeshBackbone(**kwargs)


def test_presets_load_their_own_weights_and_take_pixels():
    mediapipe = ("facemesh", "facemesh_colour")
    for name in mediapipe:
        assert BACKBONES[name].builtin_weights and BACKBONES[name].preprocessing == PIXEL_INPUT
    assert not any(BACKBONES[name].builtin_weights for name in BACKBONES if name not in mediapipe)


def test_colour_features_are_the_crops_mean_colours_on_a_4x4_grid():
    image = face_crop("astronaut", 96)  # resized to 192 inside: block means are kept by the resize
    backbone = build_backbone("facemesh_colour", 96)
    assert backbone.output_shape == (None, 128 + 128 + 1404 + 1 + 48)
    colours = np.asarray(backbone(image[None]))[0, -48:].reshape(4, 4, 3)
    expected = image.reshape(4, 24, 4, 24, 3).mean(axis=(1, 3)) / 255.0
    np.testing.assert_allclose(colours, expected, atol=0.02)
    assert np.ptp(colours) > 0.2  # a real photo: the grid tells skin from background
    # The other features are facemesh's own.
    plain = facemesh_outputs(build_backbone("facemesh", 96))(image[None])
    ours = np.asarray(backbone(image[None]))
    np.testing.assert_allclose(ours[:, 256 : 256 + 1404] * 192, plain["landmarks"], rtol=1e-5, atol=1e-4)


def facemesh_settings(**training) -> TrainSettings:
    return TrainSettings(training=TrainingConfig(backbone="facemesh", head="mlp", **training), image_size=64)


def test_builds_as_a_frozen_stem_inside_the_regressor():
    regressor = build_regressor(facemesh_settings(stem_mode="frozen", cache_stem_features=True), 12)
    assert regressor.backbone.name == "facemesh" and not regressor.backbone.trainable
    assert {id(w) for w in regressor.trainable_weights} == {
        id(w) for w in regressor.head_model.trainable_weights
    }
    images = np.stack([face_crop(name, 64) for name in sorted(PHOTO_CROPS)])
    assert regressor.stem_features(images).shape == (3, 6141)
    assert regressor(images).shape == (3, 12)

    from_block = build_regressor(facemesh_settings(stem_mode="from_block", stem_train_from_block=15), 12)
    trained = {layer.name for layer in from_block.backbone.layers if layer.trainable and layer.weights}
    assert trained and all(name.startswith(("landmarks_", "face_flag_")) for name in trained)


def test_regressor_passes_pixels_through_to_the_facemesh_stem():
    regressor = build_regressor(facemesh_settings(stem_mode="frozen"), 12)
    images = np.stack([face_crop(name, 64) for name in sorted(PHOTO_CROPS)])
    np.testing.assert_allclose(
        np.asarray(regressor.stem_features(images)), np.asarray(regressor.backbone(images)), atol=1e-5
    )
