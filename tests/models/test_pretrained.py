"""Pretrained stem weights: Keras' file by name, Keras 3 weight files, torchvision state dicts, errors."""

import h5py
import keras
import numpy as np
import pytest

from headsynth.models import pretrained
from headsynth.models.backbones import ResNetBackbone, build_backbone
from headsynth.models.pretrained import (
    PretrainedWeightsError,
    load_stem_weights,
    load_torchvision_state_dict,
    to_torchvision_state_dict,
)


def randomise(model: keras.Model, seed: int) -> None:
    """Non-trivial values everywhere, BatchNorm statistics included (fresh ones are 0/1)."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32) * 0.1 for w in model.get_weights()])


def test_keras_imagenet_file_loads_by_name_through_keras(tmp_path, monkeypatch):
    # Keras' resnet50 *_notop.h5 is the legacy format with keras.applications' layer names;
    # write one from keras.applications.ResNet50 and let "Keras download" return it.
    from keras.src.legacy.saving import legacy_h5_format

    reference = keras.applications.ResNet50(
        weights=None, include_top=False, input_shape=(64, 64, 3), pooling="avg"
    )
    randomise(reference, 0)
    path = tmp_path / "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, reference)
    requested = {}

    def fake_get_file(fname, origin, **kwargs):
        requested.update(fname=fname, origin=origin, **kwargs)
        return str(path)

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    ours = build_backbone("resnet50", 64)
    assert load_stem_weights(ours, "resnet50", "imagenet") == str(path)
    assert requested["fname"] == path.name and requested["origin"].startswith(
        "https://storage.googleapis.com/"
    )
    images = np.random.default_rng(1).uniform(-100, 100, (2, 64, 64, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(images), reference(images), rtol=1e-4, atol=1e-4)
    # The same file by path gives the same weights.
    again = build_backbone("resnet50", 64)
    load_stem_weights(again, "resnet50", str(path))
    np.testing.assert_array_equal(
        again.get_layer("conv5_block3_3_bn").get_weights()[2],
        ours.get_layer("conv5_block3_3_bn").get_weights()[2],
    )


def test_weights_file_round_trip(tmp_path):
    source = build_backbone("tiny_cnn", 32)
    randomise(source, 2)
    path = tmp_path / "stem.weights.h5"
    source.save_weights(path)
    target = build_backbone("tiny_cnn", 32)
    assert load_stem_weights(target, "tiny_cnn", str(path)) == str(path)
    for a, b in zip(source.get_weights(), target.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_weights_of_another_architecture_are_refused(tmp_path):
    path = tmp_path / "stem.weights.h5"
    build_backbone("tiny_cnn", 32).save_weights(path)
    with pytest.raises(PretrainedWeightsError, match="saved from another architecture"):
        load_stem_weights(build_backbone("small_cnn", 32), "small_cnn", str(path))


def test_legacy_h5_missing_layers_is_an_error(tmp_path):
    from keras.src.legacy.saving import legacy_h5_format

    path = tmp_path / "partial.h5"
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, build_backbone("tiny_cnn", 32))
    with pytest.raises(PretrainedWeightsError, match="has no weights for .* layers of small_cnn"):
        load_stem_weights(build_backbone("small_cnn", 32), "small_cnn", str(path))


def tiny_torch_resnet():
    return ResNetBackbone([1, 2], [8, 16], 2, True, False, 1e-5, 32, name="tiny_wrn")


def test_torchvision_state_dict_round_trip(tmp_path):
    source = tiny_torch_resnet()
    randomise(source, 3)
    state = to_torchvision_state_dict(source)
    # [out, in, h, w]: conv1 always has 64 filters; the inner width is 2 x 8.
    assert state["layer1.0.conv1.weight"].shape == (16, 64, 1, 1)
    assert state["layer2.0.downsample.0.weight"].shape == (64, 32, 1, 1)
    state["fc.weight"] = np.zeros((1000, 64), np.float32)  # the classifier is ignored
    path = tmp_path / "tiny.npz"
    np.savez(path, **state)
    target = tiny_torch_resnet()
    with np.load(path) as loaded:
        load_torchvision_state_dict(target, dict(loaded))
    images = np.random.default_rng(4).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(target(images), source(images), rtol=1e-5, atol=1e-5)
    del state["layer2.1.bn3.running_var"]
    with pytest.raises(PretrainedWeightsError, match="lacks \\['layer2.1.bn3.running_var'\\]"):
        load_torchvision_state_dict(tiny_torch_resnet(), state)


def test_wide_resnet_keys_and_shapes_are_torchvision_s():
    state = to_torchvision_state_dict(build_backbone("wide_resnet50_2", 64))
    # torchvision's wide_resnet50_2 state dict: 320 entries with fc.weight and fc.bias.
    assert len(state) + 2 == 320
    assert state["conv1.weight"].shape == (64, 3, 7, 7)
    assert state["layer1.0.conv1.weight"].shape == (128, 64, 1, 1)
    assert state["layer1.0.conv2.weight"].shape == (128, 128, 3, 3)
    assert state["layer4.2.conv2.weight"].shape == (1024, 1024, 3, 3)
    assert state["layer4.2.conv3.weight"].shape == (2048, 1024, 1, 1)
    parameters = sum(
        v.size for k, v in state.items() if not k.endswith(("running_mean", "running_var", "tracked"))
    )
    assert parameters + 2048 * 1000 + 1000 == 68_883_240


def test_torchvision_state_dict_needs_torchvision_layout():
    with pytest.raises(PretrainedWeightsError, match="torchvision-layout"):
        to_torchvision_state_dict(build_backbone("tiny_cnn", 32))


def test_offline_imagenet_download_says_how_to_supply_a_file(monkeypatch):
    def unreachable(fname, origin, **kwargs):
        raise Exception(
            f"URL fetch failure on {origin}: None -- [Errno -3] Temporary failure in name resolution"
        )

    monkeypatch.setattr(keras.utils, "get_file", unreachable)
    with pytest.raises(PretrainedWeightsError) as error:
        load_stem_weights(build_backbone("tiny_cnn", 32), "resnet50", "imagenet")
    message = str(error.value)
    assert "Could not fetch ImageNet weights for 'resnet50' through Keras" in message
    assert "offline?" in message and "Temporary failure in name resolution" in message
    assert (
        "--set training.stem_weights=/path/to/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    )


def test_imagenet_for_a_backbone_keras_lacks_says_how_to_convert(monkeypatch):
    monkeypatch.setattr(keras.utils, "get_file", lambda *a, **k: pytest.fail("must not download"))
    with pytest.raises(PretrainedWeightsError) as error:
        pretrained.fetch_keras_weights("wide_resnet50_2")
    message = str(error.value)
    assert "Keras ships no ImageNet weights for backbone 'wide_resnet50_2'" in message
    assert "torchvision.models.wide_resnet50_2(weights='IMAGENET1K_V1')" in message
    assert "--set training.stem_weights=/path/to/wide_resnet50_2_imagenet.npz" in message


def test_missing_and_unknown_files(tmp_path):
    backbone = build_backbone("tiny_cnn", 32)
    with pytest.raises(PretrainedWeightsError, match="does not exist"):
        load_stem_weights(backbone, "tiny_cnn", str(tmp_path / "nope.weights.h5"))
    odd = tmp_path / "weights.bin"
    odd.write_bytes(b"x")
    with pytest.raises(PretrainedWeightsError, match="Unknown stem weights format"):
        load_stem_weights(backbone, "tiny_cnn", str(odd))
