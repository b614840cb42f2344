"""Exports the regressor as a SavedModel for TF Serving.

Signatures:
    serving_default(images: [B] string) -> q, shape_parameters, texture_parameters
        `images` holds encoded JPEG/PNG bytes, as TF Serving's REST API carries
        them in base64 ({"instances": [{"b64": "..."}]}).
    serving_examples(examples: [B] string) -> the same, from serialized
        tf.Examples (for TFX evaluation).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from headsynth.components.face_model.morphable_model import MorphableModel
from headsynth.data_schemas import features


def export_serving_model(model: keras.Model, face_model: MorphableModel, export_dir: str) -> None:
    """Writes the SavedModel with both signatures to `export_dir`."""
    from headsynth.components.training.trainer import decode_images

    image_size = int(model.input_shape[1])
    num_shape = face_model.shape.num_components

    def outputs(q):
        return {"q": q, "shape_parameters": q[:, :num_shape], "texture_parameters": q[:, num_shape:]}

    def predict_from_bytes(images):
        tf.debugging.assert_greater(tf.size(images), 0, message="The request holds no images (empty batch).")
        return outputs(model(decode_images(images, image_size), training=False))

    def predict_from_examples(examples):
        parsed = tf.io.parse_example(examples, {features.IMAGE: tf.io.FixedLenFeature([], tf.string)})
        return predict_from_bytes(parsed[features.IMAGE])

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serving_default",
        fn=predict_from_bytes,
        input_signature=[tf.TensorSpec([None], tf.string, name="images")],
    )
    archive.add_endpoint(
        name="serving_examples",
        fn=predict_from_examples,
        input_signature=[tf.TensorSpec([None], tf.string, name="examples")],
    )
    archive.write_out(export_dir, verbose=False)
