"""TF Serving's Predict API over an exported SavedModel, in this process.

There is no `tensorflow_model_server` binary (and no Docker engine) on the
machines the tests run on. This module answers the same REST and gRPC Predict
requests the way the server does, so the client's requests can be checked
against the real SavedModel:

- the model comes from `--model_base_path` as the server reads it: the newest
  numeric version folder (or the one given);
- it is loaded with the TF1 SavedModel loader into a session, tags {"serve"},
  and run through its SignatureDef: request inputs are matched to the
  signature's input aliases, fed to the tensors the SignatureDef names, and
  the signature's outputs fetched (TF Serving's C++ `LoadSavedModel` + `Session::Run`);
- REST bodies follow TF Serving's JSON mapping (row "instances" or columnar
  "inputs", `{"b64": ...}` for binary strings; `serving_request.py` of the
  training component); answers and errors have the server's shape
  (`{"predictions": ...}`, `{"outputs": ...}`, `{"error": ...}`).

Use `InProcessPredictionStub` in place of `PredictionServiceStub`
(`GrpcTransport(stub=...)`) and `in_process_post` in place of the HTTP call
(`RestTransport(post=...)`).
"""

from __future__ import annotations

import os
import re
import threading
import urllib.parse
from typing import Any

import numpy as np

from headsynth.serving.client import DEFAULT_MODEL_NAME, DEFAULT_SIGNATURE, ServingError


def model_versions(base_path: str | os.PathLike) -> list[int]:
    """The numeric version folders under a TF Serving model base path, ascending.

    `tensorflow_model_server` serves the newest by default and ignores other
    folders (e.g. a half-copied `.tmp` one).
    """
    import tensorflow as tf

    base_path = os.fspath(base_path)
    if not tf.io.gfile.isdir(base_path):
        return []
    return sorted(
        int(name.rstrip("/"))
        for name in tf.io.gfile.listdir(base_path)
        if name.rstrip("/").isdigit() and tf.io.gfile.isdir(os.path.join(base_path, name.rstrip("/")))
    )


class SavedModelServable:
    """One model version of a model base path, loaded and run the way TF Serving runs it.

    Args:
        base_path: what `tensorflow_model_server --model_base_path` gets.
        model_name: what `--model_name` gets (requests must name it).
        version: a version to load; the newest when None.

    Raises:
        ServingError: if the base path holds no numeric version folder.
    """

    def __init__(
        self, base_path: str | os.PathLike, model_name: str = DEFAULT_MODEL_NAME, version: int | None = None
    ) -> None:
        import tensorflow as tf

        versions = model_versions(base_path)
        if not versions:
            raise ServingError(
                f"{base_path} holds no numeric version folder (like 1/ with saved_model.pb in it).",
                "Point --model_base_path at serving/<model_name>/ of a run, not at a version folder.",
            )
        if version is not None and version not in versions:
            raise ServingError(f"Servable not found for request: Specific({model_name}, {version}).")
        self.model_name = model_name
        self.version = versions[-1] if version is None else version
        self.path = os.path.join(os.fspath(base_path), str(self.version))
        self._graph = tf.Graph()
        self._session = tf.compat.v1.Session(graph=self._graph)
        self._lock = threading.Lock()
        with self._graph.as_default():
            meta_graph = tf.compat.v1.saved_model.loader.load(self._session, ["serve"], self.path)
        self.signatures = dict(meta_graph.signature_def)

    # Core: inputs by alias -> outputs by alias ----------------------------------

    def signature(self, name: str):
        if not name:
            name = DEFAULT_SIGNATURE
        if name not in self.signatures:
            raise ServingError(f'Serving signature name: "{name}" not found in signature def')
        return self.signatures[name]

    def run(
        self,
        signature_name: str,
        inputs: dict[str, Any],
        output_filter: list[str] | tuple[str, ...] = (),
    ) -> dict[str, np.ndarray]:
        """Runs one signature on named inputs (aliases as in the SignatureDef)."""
        import tensorflow as tf

        signature = self.signature(signature_name)
        expected = set(signature.inputs)
        for alias in inputs:
            if alias not in expected:
                raise ServingError(
                    f"input tensor alias not found in signature: {alias}. "
                    f"Inputs expected to be in the set {{{','.join(sorted(expected))}}}."
                )
        missing = sorted(expected - set(inputs))
        if missing:
            raise ServingError(f"Missing input tensor alias(es) for the signature: {', '.join(missing)}.")
        feeds = {}
        for alias, value in inputs.items():
            info = signature.inputs[alias]
            dtype = tf.dtypes.as_dtype(info.dtype)
            array = (
                np.array(value, dtype=object)
                if dtype == tf.string
                else np.asarray(value, dtype.as_numpy_dtype)
            )
            feeds[info.name] = array
        names = list(output_filter) or sorted(signature.outputs)
        for alias in names:
            if alias not in signature.outputs:
                raise ServingError(f"output tensor alias not found in signature: {alias}")
        fetches = {alias: signature.outputs[alias].name for alias in names}
        with self._lock:
            try:
                return self._session.run(fetches, feed_dict=feeds)
            except tf.errors.OpError as error:
                raise ServingError(error.message.split("\n")[0]) from None

    # REST ------------------------------------------------------------------------

    def handle_rest(self, body: dict[str, Any] | str | bytes) -> dict[str, Any]:
        """Answers a REST predict body like TF Serving: `{"predictions"|"outputs": ...}` or `{"error": ...}`.

        The JSON mapping (row "instances" or columnar "inputs", `{"b64": ...}`
        for binary strings) is `components/training/serving_request.py`'s.
        """
        from headsynth.components.training.serving_request import format_response, parse_request

        try:
            signature_name, inputs = parse_request(body)
            outputs = self.run(signature_name, inputs)
            columnar = isinstance(body, dict) and "inputs" in body
            return format_response(outputs, row_format=not columnar)
        except ValueError as error:
            return {"error": str(error)}
        except ServingError as error:
            return {"error": error.problem}

    # gRPC ------------------------------------------------------------------------

    def handle_grpc(self, request):
        """Answers a `PredictRequest` with a `PredictResponse` (raises ServingError like a failed RPC)."""
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        spec = request.model_spec
        if spec.name != self.model_name:
            raise ServingError(f"Servable not found for request: Latest({spec.name})")
        if spec.HasField("version") and spec.version.value != self.version:
            raise ServingError(f"Servable not found for request: Specific({spec.name}, {spec.version.value})")
        inputs = {alias: tf.make_ndarray(tensor) for alias, tensor in request.inputs.items()}
        signature_name = spec.signature_name or DEFAULT_SIGNATURE
        outputs = self.run(signature_name, inputs, list(request.output_filter))
        response = predict_pb2.PredictResponse()
        response.model_spec.name = self.model_name
        response.model_spec.version.value = self.version
        response.model_spec.signature_name = signature_name
        for alias, value in outputs.items():
            response.outputs[alias].CopyFrom(tf.make_tensor_proto(value))
        return response

    def close(self) -> None:
        self._session.close()


class InProcessPredictionStub:
    """Stands in for `PredictionServiceStub`: `Predict(request, timeout)` runs the servable here."""

    def __init__(self, servable: SavedModelServable) -> None:
        self.servable = servable

    def Predict(self, request, timeout: float | None = None):  # noqa: N802 (gRPC's method name)
        del timeout
        return self.servable.handle_grpc(request)


REST_PATH = re.compile(r"/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?:predict$")


def in_process_post(servable: SavedModelServable):
    """A `post(url, body, timeout)` for `RestTransport` that answers like TF Serving's REST API."""

    def post(url: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        del timeout
        return answer_rest(servable, urllib.parse.urlparse(url).path, body)

    return post


def answer_rest(servable: SavedModelServable, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """Routes a REST predict request by its URL path, as TF Serving's HTTP server does."""
    match = REST_PATH.search(path)
    if not match:
        return {"error": f"Malformed request: POST {path}"}
    if match["name"] != servable.model_name:
        return {"error": f"Servable not found for request: Latest({match['name']})"}
    if match["version"] and int(match["version"]) != servable.version:
        return {"error": f"Servable not found for request: Specific({match['name']}, {match['version']})"}
    return servable.handle_rest(body)
