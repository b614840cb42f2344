"""A client for the exported model on TF Serving: REST and gRPC Predict requests, and the mesh.

The exported SavedModel (`components/training/export.py`) answers on its
`serving_default` signature: `images`, a `[B]` string tensor of encoded
JPEG/PNG files, gives `q`, `shape_parameters` and `texture_parameters`.
`tensorflow_model_server` exposes it two ways:

- REST (port 8501): `POST <url>/v1/models/<name>[/versions/<v>]:predict` with
  `{"signature_name": "serving_default", "instances": [{"b64": "<base64>"}, ...]}`,
  answered by `{"predictions": [{"q": [...], "shape_parameters": [...], ...}, ...]}`.
- gRPC (port 8500): `tensorflow.serving.PredictionService/Predict` with a
  `PredictRequest` whose `inputs["images"]` is a `[B]` DT_STRING tensor.

The transports are pluggable: `RestTransport(post=...)` takes the function that
sends a JSON body (urllib by default) and `GrpcTransport(stub=...)` the object
with `Predict(request, timeout)` (a `PredictionServiceStub` over a channel by
default), so tests run the very requests built here against the SavedModel
in-process (`tests/serving/inprocess.py`, a test double).
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from headsynth.core.errors import HeadsynthError

IMAGES_INPUT = "images"
DEFAULT_SIGNATURE = "serving_default"
DEFAULT_MODEL_NAME = "headsynth"
DEFAULT_REST_URL = "http://localhost:8501"
DEFAULT_GRPC_TARGET = "localhost:8500"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
# Photos are sent whole; TF Serving's gRPC server takes large messages, grpc's client default is 4 MiB.
GRPC_MESSAGE_BYTES = 64 * 1024 * 1024


class ServingError(HeadsynthError):
    """A request TF Serving refused, a server that cannot be reached, or an unusable photo."""


# Photos ------------------------------------------------------------------------


def read_photo(path: str | os.PathLike) -> bytes:
    """The encoded bytes of a JPEG or PNG file (sent as they are; the model decodes and resizes).

    Raises:
        ServingError: if the file is missing or is neither JPEG nor PNG.
    """
    path = Path(path)
    if not path.is_file():
        raise ServingError(f"Photo {path} does not exist.", "Pass the path of a JPEG or PNG file.")
    data = path.read_bytes()
    if not data.startswith((PNG_MAGIC, JPEG_MAGIC)):
        raise ServingError(
            f"Photo {path} is neither a JPEG nor a PNG file.", "Convert it to JPEG or PNG first."
        )
    return data


# REST --------------------------------------------------------------------------


def rest_predict_url(url: str, model_name: str = DEFAULT_MODEL_NAME, version: int | None = None) -> str:
    """TF Serving's REST predict endpoint for a server URL (`http://host:8501`).

    A URL that already ends in `:predict` is used as it is.

    Raises:
        ServingError: for a URL that is not http(s).
    """
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ServingError(
            f"--url {url!r} is not an http(s) URL.", f"REST needs e.g. --url {DEFAULT_REST_URL}."
        )
    if parsed.path.endswith(":predict"):
        return url
    path = f"{parsed.path.rstrip('/')}/v1/models/{urllib.parse.quote(model_name)}"
    if version is not None:
        path += f"/versions/{int(version)}"
    return urllib.parse.urlunparse(parsed._replace(path=path + ":predict", query="", fragment=""))


def rest_request_body(images: Sequence[bytes], signature_name: str = DEFAULT_SIGNATURE) -> dict[str, Any]:
    """The JSON body of a REST predict request (row format, binary values base64-encoded)."""
    return {
        "signature_name": signature_name,
        "instances": [{"b64": base64.b64encode(image).decode("ascii")} for image in images],
    }


def parse_rest_response(response: dict[str, Any]) -> dict[str, np.ndarray]:
    """Output name -> `[B, ...]` array, from a REST predict response (row or columnar format).

    Raises:
        ServingError: if the response carries an error or has neither format.
    """
    if "error" in response:
        raise ServingError(f"TF Serving refused the request: {response['error']}")
    if "predictions" in response:
        rows = response["predictions"]
        if rows and isinstance(rows[0], dict):
            return {name: np.asarray([row[name] for row in rows]) for name in rows[0]}
        return {"output": np.asarray(rows)}  # a signature with one output: bare values
    if "outputs" in response:
        outputs = response["outputs"]
        if isinstance(outputs, dict):
            return {name: np.asarray(value) for name, value in outputs.items()}
        return {"output": np.asarray(outputs)}
    raise ServingError(f"Unexpected REST response without predictions or outputs: {str(response)[:200]}")


def http_post_json(url: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    """POSTs `body` as JSON with urllib; returns the decoded JSON answer (also for HTTP errors).

    Raises:
        ServingError: if the server cannot be reached or answers something other than JSON.
    """
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            payload = answer.read()
    except urllib.error.HTTPError as error:
        payload = error.read()
        try:
            return json.loads(payload)  # TF Serving: {"error": "..."} with HTTP 4xx/5xx
        except ValueError:
            raise ServingError(
                f"TF Serving at {url} answered HTTP {error.code}: {payload[:200]!r}."
            ) from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ServingError(
            f"Cannot reach TF Serving at {url}: {reason}.",
            "Start the server (README: Serve with TF Serving) or check --url.",
        ) from None
    try:
        return json.loads(payload)
    except ValueError:
        raise ServingError(f"{url} answered something other than JSON: {payload[:200]!r}.") from None


class RestTransport:
    """TF Serving's REST API.

    Args:
        url: the server, e.g. `http://localhost:8501` (or a full `...:predict` URL).
        timeout: seconds per request.
        post: `post(url, body, timeout) -> dict` that sends the JSON body;
            `http_post_json` (urllib) unless a test injects another.
    """

    name = "rest"

    def __init__(
        self,
        url: str = DEFAULT_REST_URL,
        timeout: float = 60.0,
        post: Callable[[str, dict[str, Any], float], dict[str, Any]] | None = None,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self._post = post or http_post_json

    def predict(
        self,
        images: Sequence[bytes],
        model_name: str = DEFAULT_MODEL_NAME,
        signature_name: str = DEFAULT_SIGNATURE,
        version: int | None = None,
    ) -> dict[str, np.ndarray]:
        endpoint = rest_predict_url(self.url, model_name, version)
        response = self._post(endpoint, rest_request_body(images, signature_name), self.timeout)
        return parse_rest_response(response)


# gRPC --------------------------------------------------------------------------


def grpc_target(url: str) -> str:
    """`host:port` for grpc from `host:port` or `grpc://host:port`.

    Raises:
        ServingError: for an http(s) URL or one without a port.
    """
    target = url.removeprefix("grpc://").rstrip("/")
    if "://" in target or ":" not in target or not target.rsplit(":", 1)[1].isdigit():
        raise ServingError(
            f"--url {url!r} is not a gRPC address.",
            f"gRPC needs host:port, e.g. --url {DEFAULT_GRPC_TARGET}.",
        )
    return target


def grpc_predict_request(
    images: Sequence[bytes],
    model_name: str = DEFAULT_MODEL_NAME,
    signature_name: str = DEFAULT_SIGNATURE,
    version: int | None = None,
):
    """The `tensorflow.serving.PredictRequest` for a batch of encoded images."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = int(version)
    request.inputs[IMAGES_INPUT].CopyFrom(
        tf.make_tensor_proto(list(images), dtype=tf.string, shape=[len(images)])
    )
    return request


def parse_grpc_response(response) -> dict[str, np.ndarray]:
    """Output name -> array, from a `PredictResponse`."""
    import tensorflow as tf

    return {name: tf.make_ndarray(tensor) for name, tensor in response.outputs.items()}


class GrpcTransport:
    """TF Serving's gRPC API (PredictionService.Predict).

    Args:
        target: `host:port` (or `grpc://host:port`) of the server's gRPC port.
        timeout: seconds per request.
        stub: an object with `Predict(request, timeout=...)`; a
            `PredictionServiceStub` over an insecure channel unless a test injects one.
    """

    name = "grpc"

    def __init__(self, target: str = DEFAULT_GRPC_TARGET, timeout: float = 60.0, stub: Any = None) -> None:
        self.target = grpc_target(target)
        self.timeout = timeout
        self._stub = stub
        self._channel = None

    def stub(self):
        if self._stub is None:
            import grpc
            from tensorflow_serving.apis import prediction_service_pb2_grpc

            options = [
                ("grpc.max_send_message_length", GRPC_MESSAGE_BYTES),
                ("grpc.max_receive_message_length", GRPC_MESSAGE_BYTES),
            ]
            self._channel = grpc.insecure_channel(self.target, options=options)
            self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        return self._stub

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    def predict(
        self,
        images: Sequence[bytes],
        model_name: str = DEFAULT_MODEL_NAME,
        signature_name: str = DEFAULT_SIGNATURE,
        version: int | None = None,
    ) -> dict[str, np.ndarray]:
        import grpc

        request = grpc_predict_request(images, model_name, signature_name, version)
        try:
            response = self.stub().Predict(request, timeout=self.timeout)
        except grpc.RpcError as error:
            code = error.code() if hasattr(error, "code") else None
            details = error.details() if hasattr(error, "details") else str(error)
            if code == grpc.StatusCode.UNAVAILABLE:
                raise ServingError(
                    f"Cannot reach TF Serving's gRPC port at {self.target}: {details}.",
                    "Start the server (README: Serve with TF Serving) or check --url.",
                ) from None
            name = code.name if code is not None else "error"
            raise ServingError(f"TF Serving refused the request ({name}): {details}") from None
        return parse_grpc_response(response)


class Transport(Protocol):
    """What the client needs from a transport."""

    name: str

    def predict(
        self,
        images: Sequence[bytes],
        model_name: str = DEFAULT_MODEL_NAME,
        signature_name: str = DEFAULT_SIGNATURE,
        version: int | None = None,
    ) -> dict[str, np.ndarray]: ...


def make_transport(kind: str, url: str | None = None, timeout: float = 60.0) -> Transport:
    """A REST or gRPC transport to `url` (the default port of each when None)."""
    if kind == "rest":
        return RestTransport(url or DEFAULT_REST_URL, timeout)
    if kind == "grpc":
        return GrpcTransport(url or DEFAULT_GRPC_TARGET, timeout)
    raise ServingError(f"Unknown transport {kind!r}.", "Use rest or grpc.")


# From photos to meshes ------------------------------------------------------------


@dataclass
class Reconstruction:
    """The answer for one photo, and the mesh written from it."""

    photo: str
    q: np.ndarray
    mesh: str = ""
    outputs: dict[str, np.ndarray] = field(default_factory=dict)


def predict_photos(
    photos: Sequence[str | os.PathLike],
    transport: Transport,
    model_name: str = DEFAULT_MODEL_NAME,
    signature_name: str = DEFAULT_SIGNATURE,
    version: int | None = None,
) -> list[Reconstruction]:
    """Sends every photo in one request; returns q (and every other output) per photo.

    Raises:
        ServingError: for an unusable photo, a refused request, or an answer without q.
    """
    images = [read_photo(photo) for photo in photos]
    outputs = transport.predict(images, model_name, signature_name, version)
    if "q" not in outputs:
        raise ServingError(
            f"The {signature_name!r} answer has no 'q' output (it has {', '.join(sorted(outputs))}).",
            "Use a signature of the exported headsynth model, e.g. serving_default.",
        )
    q = np.asarray(outputs["q"], dtype=np.float64)
    if q.ndim != 2 or q.shape[0] != len(images):
        raise ServingError(f"Expected q of shape [{len(images)}, m]; the server sent {list(q.shape)}.")
    return [
        Reconstruction(
            photo=str(photo), q=q[i], outputs={name: np.asarray(value)[i] for name, value in outputs.items()}
        )
        for i, photo in enumerate(photos)
    ]


def face_model_for(source: str, reconstruction: Reconstruction):
    """The morphable model q belongs to: `source` truncated to the widths the server answered."""
    from headsynth.morphable.loading import load_model

    shape = reconstruction.outputs.get("shape_parameters")
    texture = reconstruction.outputs.get("texture_parameters")
    if shape is None or texture is None:
        raise ServingError(
            "The answer lacks shape_parameters/texture_parameters, so the model's truncation is unknown."
        )
    model = load_model(source, int(np.size(shape)), int(np.size(texture)))
    if model.num_parameters != reconstruction.q.shape[-1]:
        raise ServingError(
            f"The server's q has {reconstruction.q.shape[-1]} parameters; face model {source!r} "
            f"truncated to {np.size(shape)} + {np.size(texture)} has {model.num_parameters}."
        )
    return model


def write_meshes(
    reconstructions: Sequence[Reconstruction],
    out_dir: str | os.PathLike,
    model_source: str = "builtin",
    scale: float = 1.6,
    mesh_format: str = "obj",
) -> list[Reconstruction]:
    """Writes `<out_dir>/<photo stem>.<obj|ply>` for every reconstruction (sets `.mesh`).

    Raises:
        ServingError: for two photos with the same stem, or a face model that does not fit q.
    """
    from headsynth.components.face_model.export import export_mesh

    if mesh_format not in ("obj", "ply"):
        raise ServingError(f"Unknown mesh format {mesh_format!r}.", "Use obj or ply.")
    stems = [Path(r.photo).stem for r in reconstructions]
    duplicates = sorted({stem for stem in stems if stems.count(stem) > 1})
    if duplicates:
        raise ServingError(
            f"Several photos are named {duplicates[0]!r}; their meshes would overwrite each other.",
            "Rename the photos or run the client once per folder with its own --out-dir.",
        )
    models: dict[tuple[int, int], Any] = {}
    for reconstruction, stem in zip(reconstructions, stems, strict=True):
        key = (
            int(np.size(reconstruction.outputs.get("shape_parameters", ()))),
            int(np.size(reconstruction.outputs.get("texture_parameters", ()))),
        )
        if key not in models:
            models[key] = face_model_for(model_source, reconstruction)
        path = Path(out_dir) / f"{stem}.{mesh_format}"
        export_mesh(models[key], reconstruction.q, path, scale)
        reconstruction.mesh = str(path)
    return list(reconstructions)
