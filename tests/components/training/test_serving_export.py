"""The exported SavedModel: REST-shaped requests in-process, the mesh on request, clear errors, layout."""

import base64
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from headsynth.components.rendering.shard_plan import read_examples
from headsynth.components.training.export import export_for_tf_serving
from headsynth.components.training.serving_request import build_request, format_response, parse_request
from headsynth.morphable.model import load_npz


@pytest.fixture(scope="module")
def served(trained_regressor):
    out, _ = trained_regressor
    return tf.saved_model.load(str(out / "serving")), keras.models.load_model(
        out / "logs" / "regressor.keras"
    )


@pytest.fixture(scope="module")
def eval_records(rendered_examples):
    records = read_examples(str(rendered_examples), "eval", 3)
    images = [tf.train.Example.FromString(r).features.feature["image"].bytes_list.value[0] for r in records]
    return records, images


def decoded(images):
    return np.stack([tf.io.decode_png(e, channels=3).numpy().astype(np.float32) for e in images])


@pytest.mark.parametrize("row_format", [True, False], ids=["instances", "inputs"])
def test_rest_request_gives_the_numbers_of_model_predict(served, eval_records, small_model, row_format):
    loaded, model = served
    records, images = eval_records
    assert set(loaded.signatures) == {"serving_default", "serving_mesh", "serving_examples"}
    # What a client sends over HTTP: JSON text with base64 image bytes.
    body = json.dumps(build_request(images, row_format=row_format))
    assert ('"instances"' in body) == row_format and '"b64"' in body
    signature_name, inputs = parse_request(body)
    assert signature_name == "serving_default"
    outputs = loaded.signatures[signature_name](**inputs)
    response = json.loads(json.dumps(format_response({k: v.numpy() for k, v in outputs.items()}, row_format)))
    if row_format:
        q = np.array([p["q"] for p in response["predictions"]])
        shape = np.array([p["shape_parameters"] for p in response["predictions"]])
    else:
        q, shape = np.array(response["outputs"]["q"]), np.array(response["outputs"]["shape_parameters"])
    assert q.shape == (3, small_model.num_parameters)
    np.testing.assert_allclose(q, model.predict(decoded(images), verbose=0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(shape, q[:, : small_model.shape.num_components], rtol=1e-6)
    from_examples = loaded.signatures["serving_examples"](
        **parse_request(build_request(records, "serving_examples"))[1]
    )
    np.testing.assert_allclose(from_examples["q"].numpy(), q, rtol=1e-5, atol=1e-5)


def test_mesh_on_request_matches_the_face_model(served, eval_records, small_model, trained_regressor):
    loaded, _ = served
    _, images = eval_records
    out = loaded.signatures["serving_mesh"](images=tf.constant(images))
    q = out["q"].numpy()
    assert out["vertices"].shape == (3, small_model.num_vertices, 3)
    np.testing.assert_allclose(out["vertices"].numpy(), small_model.vertices(q, 1.6), rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(out["vertex_colors"].numpy(), small_model.colors(q, 1.6), atol=1e-5)
    plain = loaded.signatures["serving_default"](images=tf.constant(images))
    assert "vertices" not in plain
    np.testing.assert_allclose(plain["q"].numpy(), q, rtol=1e-6)
    # The triangles travel beside the SavedModel, where TF Serving ignores them.
    trainer_dir = trained_regressor[0] / "serving"
    saved = load_npz(trainer_dir / "assets.extra" / "face_model.npz")
    np.testing.assert_array_equal(saved.triangles, small_model.triangles)


def test_graph_rejects_non_images_empty_batches_and_wrong_dtypes(served, eval_records):
    loaded, _ = served
    _, images = eval_records
    signature = loaded.signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="not JPEG or PNG images.*\\[1\\]"):
        signature(images=tf.constant([images[0], b"hello, not an image", images[1]]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="no images \\(empty batch\\)"):
        signature(images=tf.constant([], tf.string))
    # TF checks the dtype against the signature before running the graph (as TF Serving does).
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected to be a string tensor but is a float"):
        signature(images=tf.constant([1.0, 2.0]))


@pytest.mark.parametrize(
    "body, message",
    [
        (
            {"instances": [{"b64": base64.b64encode(b"GIF89a....").decode()}]},
            "images\\[0\\] is not a JPEG or PNG",
        ),
        ({"instances": []}, "empty batch"),
        ({"inputs": {"images": []}}, "empty batch"),
        ({"instances": [1.5]}, "wrong type: float 1.5.*dtype string"),
        ({"instances": [[0, 1, 2]]}, "wrong type: list"),
        ({"instances": ["aGVsbG8="]}, "plain JSON string.*base64 inside"),
        ({"instances": [{"b64": "***"}]}, "not valid base64"),
        ({"instances": [{"pixels": {"b64": "aGk="}}]}, "must name the input 'images'"),
        ({"signature_name": "predict", "instances": []}, "Unknown signature_name 'predict'"),
        ({"instances": [], "inputs": []}, "exactly one of 'instances'"),
        ({"inputs": {"b64": "aGk="}}, "must be a list"),
        ([1, 2], "must be a JSON object"),
        ("{not json", "not valid JSON"),
    ],
)
def test_rest_helper_explains_bad_requests(body, message):
    with pytest.raises(ValueError, match=message):
        parse_request(body if isinstance(body, str) else json.dumps(body))


def test_rest_helper_checks_examples_and_named_instances(eval_records):
    records, images = eval_records
    named = {"instances": [{"images": {"b64": base64.b64encode(images[0]).decode()}}]}
    assert parse_request(named)[1]["images"][0] == images[0]
    bad = build_request([images[0]], "serving_examples")
    with pytest.raises(ValueError, match="examples\\[0\\]"):
        parse_request(bad)
    with pytest.raises(ValueError, match="empty batch"):
        build_request([])


def test_export_for_tf_serving_lays_out_model_name_and_version(tmp_path, served, small_model):
    _, model = served
    path = export_for_tf_serving(model, small_model, str(tmp_path), "headsynth", version=3)
    assert path == str(tmp_path / "headsynth" / "3")
    assert (tmp_path / "headsynth" / "3" / "saved_model.pb").exists()
    assert (tmp_path / "headsynth" / "3" / "variables").is_dir()
    with pytest.raises(ValueError, match="exists already"):
        export_for_tf_serving(model, small_model, str(tmp_path), "headsynth", version=3)
    with pytest.raises(ValueError, match="Received: version=0"):
        export_for_tf_serving(model, small_model, str(tmp_path), "headsynth", version=0)
