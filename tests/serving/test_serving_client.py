"""The TF Serving client's REST and gRPC requests, run against the exported SavedModel in-process.

There is no `tensorflow_model_server` here. The requests the client builds
(the JSON body; the `PredictRequest`) go through the wire format (JSON text,
serialized protobuf) and are answered by `SavedModelServable`, which loads the
model base path like TF Serving (newest numeric version, tag "serve", TF1
session) and runs the SignatureDef by its input/output aliases. The answers
must match the SavedModel's own `serving_default` function. The README's curl
and client commands then run over real HTTP and gRPC sockets on localhost.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from inprocess import (  # tests/serving/inprocess.py, beside this file
    InProcessPredictionStub,
    SavedModelServable,
    answer_rest,
    in_process_post,
    model_versions,
)
from test_readme import headsynth_argv, readme_command, section_text

from headsynth.cli import client_command
from headsynth.cli.main import build_parser, main
from headsynth.serving.client import (
    GrpcTransport,
    RestTransport,
    ServingError,
    grpc_predict_request,
    parse_grpc_response,
    parse_rest_response,
    rest_request_body,
)

ATOL = 1e-5


@pytest.fixture(scope="module")
def model_base_path(tmp_path_factory, trained_regressor):
    """`serving/headsynth/` as the Pusher lays it out: numeric versions (the newest is served)."""
    folder, _ = trained_regressor
    base = tmp_path_factory.mktemp("serving") / "headsynth"
    for version in ("3", "12"):
        shutil.copytree(folder / "serving", base / version)
    (base / "not-a-version").mkdir()
    return base


@pytest.fixture(scope="module")
def servable(model_base_path):
    servable = SavedModelServable(model_base_path, "headsynth")
    yield servable
    servable.close()


@pytest.fixture(scope="module")
def photos(tmp_path_factory, rendered_examples):
    """A real photograph (the README's astronaut, JPEG) and a rendered head (PNG)."""
    import imageio.v3 as iio
    import skimage
    import tensorflow as tf

    from headsynth.components.rendering.shard_plan import read_examples

    folder = tmp_path_factory.mktemp("photos")
    iio.imwrite(folder / "astronaut.jpg", skimage.data.astronaut())
    record = read_examples(str(rendered_examples), "eval", limit=1)[0]
    encoded = tf.train.Example.FromString(record).features.feature["image"].bytes_list.value[0]
    (folder / "render.png").write_bytes(encoded)
    return [folder / "astronaut.jpg", folder / "render.png"]


@pytest.fixture(scope="module")
def expected(model_base_path, photos):
    """What the SavedModel's own serving_default function answers (TF2 loader, not TF Serving's path)."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(model_base_path / "12"))
    images = tf.constant([p.read_bytes() for p in photos])
    return {
        name: value.numpy() for name, value in loaded.signatures["serving_default"](images=images).items()
    }


def test_rest_request_is_tf_serving_json_and_runs_through_the_signature(servable, photos, expected):
    images = [p.read_bytes() for p in photos]
    body = rest_request_body(images)
    assert body == {
        "signature_name": "serving_default",
        "instances": [{"b64": base64.b64encode(image).decode("ascii")} for image in images],
    }
    wire = json.dumps(body)  # what goes over HTTP
    answer = json.loads(json.dumps(servable.handle_rest(json.loads(wire))))
    assert set(answer) == {"predictions"} and len(answer["predictions"]) == 2
    outputs = parse_rest_response(answer)
    assert set(outputs) == {"q", "shape_parameters", "texture_parameters"}
    for name, value in expected.items():
        np.testing.assert_allclose(outputs[name], value, atol=ATOL)
    assert outputs["q"].shape == (2, 8)

    # The same through the client's transport, with the in-process "server" behind its post function.
    sent = []

    def recording_post(url, request_body, timeout):
        sent.append((url, request_body))
        return in_process_post(servable)(url, request_body, timeout)

    transport = RestTransport("http://localhost:8501", post=recording_post)
    outputs = transport.predict(images)
    assert sent == [("http://localhost:8501/v1/models/headsynth:predict", body)]
    np.testing.assert_allclose(outputs["q"], expected["q"], atol=ATOL)
    assert transport.predict(images, version=12)["q"].shape == (2, 8)

    # The columnar format answers the same numbers.
    columnar = servable.handle_rest({"inputs": {"images": body["instances"]}})
    np.testing.assert_allclose(parse_rest_response(columnar)["q"], expected["q"], atol=ATOL)


def test_grpc_request_is_a_predict_request_and_runs_through_the_signature(servable, photos, expected):
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    images = [p.read_bytes() for p in photos]
    request = grpc_predict_request(images)
    assert request.model_spec.name == "headsynth"
    assert request.model_spec.signature_name == "serving_default"
    tensor = request.inputs["images"]
    assert tensor.dtype == tf.string.as_datatype_enum
    assert [d.size for d in tensor.tensor_shape.dim] == [2]
    assert list(tensor.string_val) == images
    wire = predict_pb2.PredictRequest.FromString(request.SerializeToString())  # what goes over gRPC
    outputs = parse_grpc_response(servable.handle_grpc(wire))
    for name, value in expected.items():
        np.testing.assert_allclose(outputs[name], value, atol=ATOL)

    transport = GrpcTransport("localhost:8500", stub=InProcessPredictionStub(servable))
    np.testing.assert_allclose(transport.predict(images)["q"], expected["q"], atol=ATOL)
    filtered = grpc_predict_request(images)
    filtered.output_filter.append("q")
    assert set(servable.handle_grpc(filtered).outputs) == {"q"}


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_client_writes_the_mesh_of_each_photo(tmp_path, servable, photos, expected, small_model, transport):
    from headsynth.morphable.loading import load_model

    out = tmp_path / "meshes"
    args = build_parser().parse_args(
        ["client", "--transport", transport, "--out-dir", str(out), "--format", "obj", *map(str, photos)]
    )
    injected = (
        RestTransport(post=in_process_post(servable))
        if transport == "rest"
        else GrpcTransport(stub=InProcessPredictionStub(servable))
    )
    assert client_command.command(args, transport=injected) == 0
    model = load_model("builtin", 4, 4)
    for photo, q in zip(photos, expected["q"], strict=True):
        lines = (out / f"{photo.stem}.obj").read_text().splitlines()
        vertices = np.array(
            [[float(x) for x in line.split()[1:4]] for line in lines if line.startswith("v ")]
        )
        assert vertices.shape == (model.num_vertices, 3)
        np.testing.assert_allclose(vertices, model.vertices(q, 1.6), atol=1e-3)
        assert sum(line.startswith("f ") for line in lines) == len(model.triangles)


class RestServer:
    """TF Serving's REST port on localhost (http.server), answering through the servable."""

    def __init__(self, servable: SavedModelServable) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                try:
                    body = json.loads(self.rfile.read(length))
                except ValueError:
                    answer = {"error": "JSON Parse error"}
                else:
                    answer = answer_rest(servable, self.path, body)
                data = json.dumps(answer).encode()
                self.send_response(400 if "error" in answer else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class GrpcServer:
    """TF Serving's gRPC port on localhost (PredictionService), answering through the servable."""

    def __init__(self, servable: SavedModelServable) -> None:
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        class Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
            def Predict(self, request, context):  # noqa: N802
                try:
                    return servable.handle_grpc(request)
                except ServingError as error:
                    status = (
                        grpc.StatusCode.NOT_FOUND
                        if "not found" in error.problem
                        else grpc.StatusCode.INVALID_ARGUMENT
                    )
                    context.abort(status, error.problem)

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Servicer(), self.server)
        self.target = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"

    def __enter__(self):
        self.server.start()
        return self

    def __exit__(self, *exc):
        self.server.stop(0)


def test_readme_curl_and_client_commands_over_http_and_grpc(
    tmp_path, monkeypatch, capsys, servable, small_model
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    make_photo = readme_command('.venv/bin/python -c "import imageio')
    subprocess.run(
        make_photo.replace(".venv/bin/python", sys.executable, 1), shell=True, check=True, timeout=120
    )
    assert (tmp_path / "face.jpg").read_bytes().startswith(b"\xff\xd8\xff")
    reference = servable.run("serving_default", {"images": [(tmp_path / "face.jpg").read_bytes()]})["q"][0]

    with RestServer(servable) as rest, GrpcServer(servable) as grpc_server:
        curl = readme_command("curl ").replace("http://localhost:8501", rest.url)
        answer = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, check=True, timeout=120)
        np.testing.assert_allclose(json.loads(answer.stdout)["predictions"][0]["q"], reference, atol=ATOL)

        rest_client = readme_command(".venv/bin/headsynth client --url http://localhost:8501")
        assert main(headsynth_argv(rest_client.replace("http://localhost:8501", rest.url))) == 0
        grpc_client = readme_command(".venv/bin/headsynth client --transport grpc")
        assert main(headsynth_argv(grpc_client.replace("localhost:8500", grpc_server.target))) == 0
        printed = capsys.readouterr().out
        assert "face.jpg -> face.obj" in printed and "face.jpg -> face.ply" in printed

        # Refusals come back as one clear line.
        assert main(["client", "--url", rest.url, "--model-name", "other", "face.jpg"]) == 2
        assert "Servable not found" in capsys.readouterr().err
        assert (
            main(
                [
                    "client",
                    "--transport",
                    "grpc",
                    "--url",
                    grpc_server.target,
                    "--model-version",
                    "3",
                    "face.jpg",
                ]
            )
            == 2
        )
        assert "NOT_FOUND" in capsys.readouterr().err

    model = small_model
    assert (
        sum(line.startswith("v ") for line in (tmp_path / "face.obj").read_text().splitlines())
        == model.num_vertices
    )
    header = (tmp_path / "face.ply").read_bytes().split(b"end_header")[0].decode()
    assert f"element vertex {model.num_vertices}" in header


def test_servable_reads_the_model_base_path_like_tf_serving(model_base_path, servable, tmp_path):
    assert model_versions(model_base_path) == [3, 12]
    assert servable.version == 12 and servable.path.endswith(os.path.join("headsynth", "12"))
    older = SavedModelServable(model_base_path, "headsynth", version=3)
    assert older.version == 3
    older.close()
    with pytest.raises(ServingError, match="no numeric version folder"):
        SavedModelServable(model_base_path / "12", "headsynth")  # a version folder is not a base path
    assert answer_rest(servable, "/v1/models/other:predict", {"instances": []})["error"].startswith(
        "Servable not found"
    )
    assert "error" in servable.handle_rest({"instances": [{"b64": "not base64!"}]})
    assert "error" in servable.handle_rest(
        {"instances": [{"b64": base64.b64encode(b"not an image").decode()}]}
    )
    assert "error" in servable.handle_rest({"signature_name": "nope", "instances": [1]})


def test_every_signature_of_the_export_is_in_the_readme(servable):
    text = section_text("Serve with TF Serving")
    for name, signature in servable.signatures.items():
        if name.startswith("__"):
            continue  # TF's internal signatures (e.g. __saved_model_init_op)
        assert f"`{name}`" in text, name
        for alias in signature.inputs:
            assert f"`{alias}`" in text, (name, alias)


def test_client_user_errors_are_one_line(tmp_path, capsys):
    not_a_photo = tmp_path / "notes.jpg"
    not_a_photo.write_text("hello")
    assert main(["client", str(not_a_photo)]) == 2
    assert "neither a JPEG nor a PNG" in capsys.readouterr().err
    photo = tmp_path / "face.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 16)
    assert main(["client", "--url", "http://127.0.0.1:9", "--timeout", "5", str(photo)]) == 2
    err = capsys.readouterr().err.strip()
    assert "Cannot reach TF Serving" in err and len(err.splitlines()) == 1
    assert main(["client", "--transport", "grpc", "--url", "http://localhost:8501", str(photo)]) == 2
    assert "not a gRPC address" in capsys.readouterr().err
