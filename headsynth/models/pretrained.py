"""Pretrained stem weights: from a file, or through Keras when it can reach them.

Sources (`TrainingConfig.stem_weights`):
    "imagenet": Keras downloads (or finds in `~/.keras/models/`) its ImageNet
        file for backbones it ships (resnet50). Offline, or for backbones
        Keras ships none of, a `PretrainedWeightsError` says how to supply a file.
    a path:
        `*.weights.h5`: a Keras 3 weights file of the same backbone (e.g.
            `backbone.save_weights(...)` after an earlier run).
        `*.h5` / `*.hdf5`: a legacy Keras file read by layer name (Keras'
            `resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5`).
        `*.npz`: a torchvision state dict saved with numpy (keys such as
            `layer1.0.conv1.weight`), converted on load.
"""

from __future__ import annotations

import os
import tempfile

import keras
import numpy as np
import tensorflow as tf

from headsynth.core.errors import HeadsynthError
from headsynth.models.backbones import BackbonePreset, ResNetBackbone, get_preset

WEIGHT_FILE_SUFFIXES = (".weights.h5", ".h5", ".hdf5", ".npz")


class PretrainedWeightsError(HeadsynthError):
    """Pretrained stem weights that cannot be found, fetched or matched to the backbone."""


def torchvision_export_command(torchvision_name: str, path: str) -> str:
    """A one-line command that writes a torchvision state dict as `.npz` (run where torch is)."""
    return (
        'python -c "import numpy as np, torchvision; '
        f"sd = torchvision.models.{torchvision_name}(weights='IMAGENET1K_V1').state_dict(); "
        f"np.savez('{path}', **{{k: v.numpy() for k, v in sd.items()}})\""
    )


def _supply_file_hint(backbone_name: str, preset: BackbonePreset) -> str:
    if preset.weights_format == "torchvision":
        target = f"{preset.torchvision_name}_imagenet.npz"
        return (
            f"Write torchvision's ImageNet weights for {preset.torchvision_name} to a file on a machine with "
            f"network access and torch installed: {torchvision_export_command(preset.torchvision_name, target)} "
            f"then pass it: --set training.stem_weights=/path/to/{target}"
        )
    if preset.keras_weights is not None:
        return (
            f"Download {preset.keras_weights.origin} on a machine with network access and pass its path: "
            f"--set training.stem_weights=/path/to/{preset.keras_weights.file_name} "
            "(or copy it to ~/.keras/models/, where Keras looks before downloading)."
        )
    return f"Backbone {backbone_name!r} has no published weights; leave training.stem_weights empty."


def fetch_keras_weights(backbone_name: str) -> str:
    """Path of the ImageNet weights file Keras ships for a backbone, downloading it if needed.

    Raises:
        PretrainedWeightsError: if Keras ships none for this backbone, or the
            download fails (offline), with how to supply a file instead.
    """
    preset = get_preset(backbone_name)
    if preset.keras_weights is None:
        raise PretrainedWeightsError(
            f"Keras ships no ImageNet weights for backbone {backbone_name!r}.",
            _supply_file_hint(backbone_name, preset),
        )
    spec = preset.keras_weights
    try:
        # keras.utils.get_file returns the cached copy without any network access when present.
        return keras.utils.get_file(
            spec.file_name, spec.origin, cache_subdir="models", file_hash=spec.file_hash
        )
    except Exception as error:  # noqa: BLE001 - get_file raises bare Exception for fetch failures
        raise PretrainedWeightsError(
            f"Could not fetch ImageNet weights for {backbone_name!r} through Keras from {spec.origin} "
            f"(offline?): {error}",
            _supply_file_hint(backbone_name, preset),
        ) from error


def load_stem_weights(backbone: keras.Model, backbone_name: str, source: str) -> str:
    """Loads pretrained weights into a freshly built backbone.

    Args:
        backbone: the backbone, built by `build_backbone(backbone_name, ...)`.
        backbone_name: its preset name.
        source: "imagenet" or a file path (see the module docstring).

    Returns:
        The path the weights came from.

    Raises:
        PretrainedWeightsError: for a missing file, an unknown format, or
            weights that do not fit the backbone.
    """
    preset = get_preset(backbone_name)
    path = fetch_keras_weights(backbone_name) if source == "imagenet" else _local_copy(source)
    if not os.path.exists(path):
        raise PretrainedWeightsError(
            f"Stem weights file {path!r} does not exist.", _supply_file_hint(backbone_name, preset)
        )
    try:
        if path.endswith(".weights.h5"):
            load_keras_weights_file(backbone, path)
        elif path.endswith((".h5", ".hdf5")):
            load_legacy_h5_by_name(backbone, path)
        elif path.endswith(".npz"):
            with np.load(path) as state:
                load_torchvision_state_dict(backbone, dict(state))
        else:
            raise PretrainedWeightsError(
                f"Unknown stem weights format {path!r}.",
                f"Use a file ending in one of {', '.join(WEIGHT_FILE_SUFFIXES)}.",
            )
    except PretrainedWeightsError:
        raise
    except (ValueError, KeyError, OSError) as error:
        raise PretrainedWeightsError(
            f"The weights in {path!r} do not fit backbone {backbone_name!r}: {error}",
            _supply_file_hint(backbone_name, preset),
        ) from error
    return path


def _local_copy(path: str) -> str:
    """A local path for `path`; files on gs:// and other TF filesystems are copied (h5py reads local files)."""
    if "://" not in path:
        return path
    if not tf.io.gfile.exists(path):
        return path
    suffix = next(s for s in WEIGHT_FILE_SUFFIXES + ("",) if path.endswith(s))
    local = os.path.join(tempfile.mkdtemp(prefix="stem_weights_"), "weights" + suffix)
    tf.io.gfile.copy(path, local)
    return local


def load_keras_weights_file(backbone: keras.Model, path: str) -> None:
    """Loads a Keras 3 `.weights.h5` file after checking it holds exactly the backbone's weights.

    Keras matches these files by structure and only warns about parts it
    cannot match, leaving them freshly initialised; a stem must not be
    silently part-random.

    Raises:
        PretrainedWeightsError: if the file's weight shapes differ from the backbone's.
    """
    import h5py  # heavy optional dependency: only weight files need it

    shapes = []
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda name, item: shapes.append(tuple(item.shape)) if isinstance(item, h5py.Dataset) else None
        )
    expected = [tuple(w.shape) for w in backbone.weights]
    if sorted(shapes) != sorted(expected):
        raise PretrainedWeightsError(
            f"{path!r} holds {len(shapes)} arrays but {backbone.name} has {len(expected)} weights of other shapes: "
            "it was saved from another architecture.",
            f"Use a file saved from a {backbone.name} backbone (backbone.save_weights(...)).",
        )
    backbone.load_weights(path)


def load_legacy_h5_by_name(backbone: keras.Model, path: str) -> None:
    """Loads a legacy Keras `.h5` weights file by layer name, requiring every weighted layer.

    Keras' own by-name loading silently skips layers the file lacks, which
    would leave part of a "pretrained" stem random.

    Raises:
        PretrainedWeightsError: if the file lacks weights for some layers.
    """
    import h5py  # heavy optional dependency: only weight files need it

    with h5py.File(path, "r") as f:
        group = f["model_weights"] if "layer_names" not in f.attrs and "model_weights" in f else f
        in_file = {
            (n.decode() if isinstance(n, bytes) else n)
            for n in group.attrs.get("layer_names", [])
            if len(group[n.decode() if isinstance(n, bytes) else n].attrs.get("weight_names", [])) > 0
        }
    missing = [layer.name for layer in backbone.layers if layer.weights and layer.name not in in_file]
    if missing:
        raise PretrainedWeightsError(
            f"{path!r} has no weights for {len(missing)} layers of {backbone.name}, e.g. {missing[:3]}.",
            "Use a file saved from the same architecture (Keras' *_notop.h5 for resnet50).",
        )
    backbone.load_weights(path, by_name=True)


# --- torchvision state dicts ----------------------------------------------------------------------


def _torchvision_names(backbone: ResNetBackbone) -> dict[str, str]:
    """Keras layer name -> torchvision module prefix, for every weighted layer."""
    names = {"conv1_conv": "conv1", "conv1_bn": "bn1"}
    for stage, blocks in enumerate(backbone.stackwise_num_blocks):
        for block in range(blocks):
            keras_prefix = f"conv{stage + 2}_block{block + 1}"
            torch_prefix = f"layer{stage + 1}.{block}"
            for k in (1, 2, 3):
                names[f"{keras_prefix}_{k}_conv"] = f"{torch_prefix}.conv{k}"
                names[f"{keras_prefix}_{k}_bn"] = f"{torch_prefix}.bn{k}"
            if block == 0:
                names[f"{keras_prefix}_0_conv"] = f"{torch_prefix}.downsample.0"
                names[f"{keras_prefix}_0_bn"] = f"{torch_prefix}.downsample.1"
    return names


def _check_torchvision_layout(backbone: keras.Model) -> None:
    if not isinstance(backbone, ResNetBackbone) or not backbone.stride_in_3x3 or backbone.use_conv_bias:
        raise PretrainedWeightsError(
            f"torchvision state dicts fit only torchvision-layout ResNets (resnet50_v1_5, "
            f"wide_resnet50_2), not {backbone.name!r}.",
            "Pick one of those backbones, or a Keras weights file for this one.",
        )


def load_torchvision_state_dict(backbone: keras.Model, state: dict[str, np.ndarray]) -> None:
    """Copies a torchvision ResNet/WideResNet state dict into a torchvision-layout backbone.

    Conv kernels go from `[out, in, h, w]` to `[h, w, in, out]`; BatchNorm's
    weight/bias/running_mean/running_var become gamma/beta/moving mean/variance.
    The classifier (`fc.*`) and `num_batches_tracked` are ignored.

    Raises:
        PretrainedWeightsError: for a backbone of another layout, missing or
            unused keys, or mismatched shapes.
    """
    _check_torchvision_layout(backbone)
    used = set()
    for layer_name, prefix in _torchvision_names(backbone).items():
        layer = backbone.get_layer(layer_name)
        if isinstance(layer, keras.layers.Conv2D):
            keys = [f"{prefix}.weight"]
        else:
            keys = [f"{prefix}.{s}" for s in ("weight", "bias", "running_mean", "running_var")]
        absent = [k for k in keys if k not in state]
        if absent:
            raise PretrainedWeightsError(
                f"The torchvision state dict lacks {absent} (for layer {layer_name}).",
                "Export the full state_dict() of the matching torchvision model.",
            )
        values = [np.asarray(state[k], np.float32) for k in keys]
        if isinstance(layer, keras.layers.Conv2D):
            values = [values[0].transpose(2, 3, 1, 0)]
        expected = [tuple(w.shape) for w in layer.get_weights()]
        if [v.shape for v in values] != expected:
            raise PretrainedWeightsError(
                f"Shapes of {keys} {[v.shape for v in values]} do not fit layer {layer_name} {expected}.",
                f"Use the state dict of the torchvision model matching {backbone.name!r}.",
            )
        layer.set_weights(values)
        used.update(keys)
    unused = sorted(
        k
        for k in state
        if k not in used and not k.startswith("fc.") and not k.endswith("num_batches_tracked")
    )
    if unused:
        raise PretrainedWeightsError(
            f"The torchvision state dict has {len(unused)} keys {backbone.name} has no layer for, e.g. {unused[:3]}.",
            "It is from another architecture; use the state dict of the matching torchvision model.",
        )


def to_torchvision_state_dict(backbone: keras.Model) -> dict[str, np.ndarray]:
    """The inverse of `load_torchvision_state_dict` (without `fc.*`): for checks and round trips."""
    _check_torchvision_layout(backbone)
    state = {}
    for layer_name, prefix in _torchvision_names(backbone).items():
        weights = backbone.get_layer(layer_name).get_weights()
        if len(weights) == 1:
            state[f"{prefix}.weight"] = weights[0].transpose(3, 2, 0, 1)
        else:
            for suffix, value in zip(("weight", "bias", "running_mean", "running_var"), weights, strict=True):
                state[f"{prefix}.{suffix}"] = value
            state[f"{prefix}.num_batches_tracked"] = np.array(0, np.int64)
    return state
