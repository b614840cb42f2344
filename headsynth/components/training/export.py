"""Exports the regressor as a SavedModel for TF Serving.

Signatures:
    serving_default(images: [B] string) -> q, shape_parameters, texture_parameters
        `images` holds encoded JPEG/PNG bytes, as TF Serving's REST API carries
        them in base64 ({"instances": [{"b64": "..."}]}). Any size; resized
        to the network's input inside the graph.
    serving_mesh(images: [B] string) -> the same plus vertices [B, V, 3] (mm)
        and vertex_colors [B, V, 3] (RGB in [0, 1]), the reconstructed mesh
        computed in the graph from the face model (the mesh "on request").
    serving_examples(examples: [B] string) -> q, shape_parameters,
        texture_parameters from serialized tf.Examples (for TFX evaluation).

Every q is in the face model's units (p = scale * sigma * q): the regressor's
fixed output scale (its tanh head times the sampler's range, `heads.OutputScale`)
is part of the exported graph, so no client rescales anything.

An empty batch or a string that is not a JPEG/PNG fails with an
InvalidArgumentError naming the problem. The face model (for the mesh's
triangles) is copied to `assets.extra/face_model.npz`, which TF Serving ignores.
"""

from __future__ import annotations

import os
import time

import keras
import tensorflow as tf

from headsynth.components.training.inputs import decode_images
from headsynth.data_schemas import features
from headsynth.data_schemas.serving_assets import write_input_framing
from headsynth.models.mesh import MorphableMeshDecoder
from headsynth.morphable.model import MorphableModel

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
EMPTY_BATCH_MESSAGE = "The request holds no images (empty batch): send at least one."
NOT_AN_IMAGE_MESSAGE = (
    "Some inputs are not JPEG or PNG images (they start with neither the PNG nor the JPEG signature). "
    'Send the encoded file bytes; TF Serving\'s REST API takes them base64-encoded as {"b64": "..."}. '
    "Indices of the offending inputs:"
)


def check_encoded_images(images: tf.Tensor) -> tf.Tensor:
    """In-graph checks of a `[B]` string tensor of encoded images: non-empty, every one JPEG or PNG.

    Returns:
        `images`, made to depend on the checks: without that dependency the
        graph may run the decoder first and fail with its own, vaguer message.
    """
    non_empty = tf.debugging.assert_greater(tf.size(images), 0, message=EMPTY_BATCH_MESSAGE)
    is_png = tf.equal(tf.strings.substr(images, 0, len(PNG_MAGIC)), PNG_MAGIC)
    is_jpeg = tf.equal(tf.strings.substr(images, 0, len(JPEG_MAGIC)), JPEG_MAGIC)
    is_image = tf.logical_or(is_png, is_jpeg)
    all_images = tf.debugging.Assert(
        tf.reduce_all(is_image),
        [NOT_AN_IMAGE_MESSAGE, tf.where(tf.logical_not(is_image))[:, 0]],
        summarize=20,
    )
    with tf.control_dependencies([non_empty, all_images]):
        return tf.identity(images)


def export_serving_model(
    model: keras.Model,
    face_model: MorphableModel,
    export_dir: str,
    scale: float = 1.6,
    framing: str = "full",
) -> None:
    """Writes the SavedModel with the three signatures to `export_dir`.

    Args:
        model: the trained regressor (`[B, S, S, 3]` 0..255 images -> `[B, m]` q).
        face_model: the morphable model q belongs to.
        export_dir: the SavedModel directory (TFX's `serving_model_dir`).
        scale: p = scale * sigma * q, for the mesh.
        framing: how the training images were framed ("full" render or "face" crop), recorded
            so that whoever feeds the model photos crops them the same way.
    """
    image_size = int(model.input_shape[1])
    num_shape = face_model.shape.num_components
    decoder = MorphableMeshDecoder(face_model, scale, name="mesh_decoder")

    def parameters(q):
        return {"q": q, "shape_parameters": q[:, :num_shape], "texture_parameters": q[:, num_shape:]}

    def predict_q(images):
        images = check_encoded_images(images)
        return model(decode_images(images, image_size), training=False)

    def predict_from_bytes(images):
        return parameters(predict_q(images))

    def predict_mesh(images):
        q = predict_q(images)
        vertices, colors = decoder(q)
        return {**parameters(q), "vertices": vertices, "vertex_colors": colors}

    def predict_from_examples(examples):
        parsed = tf.io.parse_example(examples, {features.IMAGE: tf.io.FixedLenFeature([], tf.string)})
        return predict_from_bytes(parsed[features.IMAGE])

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(decoder)
    images_spec = [tf.TensorSpec([None], tf.string, name="images")]
    archive.add_endpoint(name="serving_default", fn=predict_from_bytes, input_signature=images_spec)
    archive.add_endpoint(name="serving_mesh", fn=predict_mesh, input_signature=images_spec)
    archive.add_endpoint(
        name="serving_examples",
        fn=predict_from_examples,
        input_signature=[tf.TensorSpec([None], tf.string, name="examples")],
    )
    archive.write_out(export_dir, verbose=False)
    extra = os.path.join(export_dir, "assets.extra")
    tf.io.gfile.makedirs(extra)
    face_model.save_npz(os.path.join(extra, "face_model.npz"))
    write_input_framing(export_dir, framing)


def export_for_tf_serving(
    model: keras.Model,
    face_model: MorphableModel,
    base_dir: str,
    model_name: str,
    version: int | None = None,
    scale: float = 1.6,
    framing: str = "full",
) -> str:
    """Exports to `<base_dir>/<model_name>/<version>/`, the layout `tensorflow_model_server` serves.

    (The pipeline's Pusher makes the same layout from the Trainer's export;
    this is for exports outside the pipeline.)

    Args:
        version: a positive integer; defaults to the current Unix time, so a
            later export becomes the newest version TF Serving loads.

    Returns:
        The version directory.

    Raises:
        ValueError: for a version that is not a positive integer, or one that exists.
    """
    version = int(time.time()) if version is None else version
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"`version` must be a positive integer. Received: version={version}")
    path = os.path.join(base_dir, model_name, str(version))
    if tf.io.gfile.exists(path):
        raise ValueError(f"Version directory {path} exists already; TF Serving versions are immutable.")
    export_serving_model(model, face_model, path, scale, framing)
    return path
