"""TF Serving REST bodies <-> the exported signatures' inputs and outputs, with clear errors.

TF Serving's REST predict API (`POST /v1/models/<name>:predict`) takes

    {"signature_name": "serving_default", "instances": [{"b64": "<base64 JPEG/PNG>"}, ...]}  (row format)
    {"signature_name": "serving_default", "inputs": [{"b64": "..."}, ...]}                    (columnar)

where an instance may also name its input: {"images": {"b64": "..."}}, and
`inputs` may be {"images": [...]}. Binary strings must be base64 inside
{"b64": ...}. It answers {"predictions": [{"q": [...], ...}, ...]} (row) or
{"outputs": {"q": [[...]], ...}} (columnar).

`parse_request` turns such a body into the signature's inputs (so a test, or
a client, can run the SavedModel in-process exactly as the server would) and
raises `ValueError` naming the problem for a body the server would reject
or that would fail inside the graph: wrong JSON shape, wrong value types, an
empty batch, or strings that are not JPEG/PNG images. Only numpy is needed
(TensorFlow only to check serialized tf.Examples).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

# Signature name -> its single input's name (see export.py).
SIGNATURE_INPUTS = {"serving_default": "images", "serving_mesh": "images", "serving_examples": "examples"}
DEFAULT_SIGNATURE = "serving_default"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


def image_format(data: bytes) -> str | None:
    """ "png", "jpeg", or None, from the file signature (magic bytes)."""
    if data.startswith(PNG_MAGIC):
        return "png"
    if data.startswith(JPEG_MAGIC):
        return "jpeg"
    return None


def build_request(
    payloads: Sequence[bytes], signature_name: str = DEFAULT_SIGNATURE, row_format: bool = True
) -> dict[str, Any]:
    """The REST body for encoded images (or serialized tf.Examples for `serving_examples`).

    Raises:
        ValueError: for an unknown signature, an empty batch, or non-bytes payloads.
    """
    _check_signature(signature_name)
    if len(payloads) == 0:
        raise ValueError("Cannot build a request with no inputs (empty batch).")
    encoded = []
    for i, payload in enumerate(payloads):
        if not isinstance(payload, (bytes, bytearray)):
            raise ValueError(
                f"Input {i} must be bytes (an encoded image file). Received: {type(payload).__name__}"
            )
        encoded.append({"b64": base64.b64encode(bytes(payload)).decode("ascii")})
    key = "instances" if row_format else "inputs"
    return {"signature_name": signature_name, key: encoded}


def parse_request(body: str | bytes | Mapping[str, Any]) -> tuple[str, dict[str, np.ndarray]]:
    """Turns a REST predict body into `(signature_name, {input_name: [B] bytes array})`.

    The arrays (numpy `object` arrays of bytes) can be passed straight to the
    loaded signature: `loaded.signatures[name](**inputs)`.

    Raises:
        ValueError: naming what is wrong with the body.
    """
    if isinstance(body, (str, bytes, bytearray)):
        try:
            body = json.loads(body)
        except json.JSONDecodeError as error:
            raise ValueError(f"The request body is not valid JSON: {error}") from None
    if not isinstance(body, Mapping):
        raise ValueError(
            f'The request body must be a JSON object such as {{"instances": [{{"b64": "..."}}]}}. '
            f"Received: {type(body).__name__}"
        )
    signature_name = body.get("signature_name", DEFAULT_SIGNATURE)
    _check_signature(signature_name)
    input_name = SIGNATURE_INPUTS[signature_name]
    unknown = set(body) - {"signature_name", "instances", "inputs"}
    if unknown:
        raise ValueError(f"Unknown keys in the request body: {sorted(unknown)}. Use 'instances' or 'inputs'.")
    if ("instances" in body) == ("inputs" in body):
        raise ValueError(
            "The request body must have exactly one of 'instances' (row format) or 'inputs' (columnar)."
        )
    if "instances" in body:
        values = _unwrap_named(body["instances"], input_name, "instances", per_item=True)
    else:
        values = _unwrap_named(body["inputs"], input_name, "inputs", per_item=False)
    payloads = [_decode_binary(value, f"{input_name}[{i}]") for i, value in enumerate(values)]
    for i, payload in enumerate(payloads):
        _check_payload(payload, input_name, i)
    return signature_name, {input_name: np.array(payloads, dtype=object)}


def format_response(outputs: Mapping[str, Any], row_format: bool = True) -> dict[str, Any]:
    """A signature's outputs as TF Serving's REST API answers them.

    Row format: {"predictions": [{name: value of example i, ...}, ...]};
    columnar: {"outputs": {name: batch value, ...}}.
    """
    arrays = {name: np.asarray(value) for name, value in outputs.items()}
    if not row_format:
        return {"outputs": {name: value.tolist() for name, value in arrays.items()}}
    sizes = {value.shape[0] for value in arrays.values()}
    if len(sizes) != 1:
        raise ValueError(f"Row format needs outputs with one batch size. Received sizes: {sorted(sizes)}")
    count = sizes.pop()
    return {
        "predictions": [{name: value[i].tolist() for name, value in arrays.items()} for i in range(count)]
    }


def _check_signature(signature_name: Any) -> None:
    if signature_name not in SIGNATURE_INPUTS:
        raise ValueError(
            f"Unknown signature_name {signature_name!r}. Choose one of: {', '.join(SIGNATURE_INPUTS)}."
        )


def _unwrap_named(values: Any, input_name: str, key: str, per_item: bool) -> list:
    """The list of values of the single input, whether or not the body names it."""
    if not per_item and isinstance(values, Mapping) and "b64" not in values:
        if set(values) != {input_name}:
            raise ValueError(f"'{key}' must name the input {input_name!r}. Received names: {sorted(values)}")
        values = values[input_name]
    if not isinstance(values, list):
        raise ValueError(
            f"'{key}' must be a list with one entry per {input_name[:-1]} (a batch). "
            f"Received: {type(values).__name__}"
        )
    if not values:
        raise ValueError(f"'{key}' is empty: the request holds no {input_name} (empty batch).")
    if per_item:
        unwrapped = []
        for i, item in enumerate(values):
            if isinstance(item, Mapping) and "b64" not in item:
                if set(item) != {input_name}:
                    raise ValueError(
                        f"instances[{i}] must name the input {input_name!r}. Received names: {sorted(item)}"
                    )
                item = item[input_name]
            unwrapped.append(item)
        values = unwrapped
    return values


def _decode_binary(value: Any, where: str) -> bytes:
    """Bytes of one {"b64": ...} value; other JSON types are errors."""
    if isinstance(value, Mapping):
        if set(value) != {"b64"} or not isinstance(value["b64"], str):
            raise ValueError(f'{where} must be {{"b64": "<base64 string>"}}. Received: {_describe(value)}')
        try:
            return base64.b64decode(value["b64"], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"{where} is not valid base64.") from None
    if isinstance(value, str):
        raise ValueError(
            f'{where} is a plain JSON string; binary data (an encoded image) must be base64 inside {{"b64": ...}}, '
            "or TF Serving reads it as UTF-8 text."
        )
    raise ValueError(
        f"{where} has the wrong type: {_describe(value)}. The signature takes strings (dtype string): "
        'encoded JPEG/PNG bytes as {"b64": "..."}.'
    )


def _check_payload(payload: bytes, input_name: str, index: int) -> None:
    if input_name == "images":
        if image_format(payload) is None:
            raise ValueError(
                f"images[{index}] is not a JPEG or PNG image (first bytes: {payload[:8]!r}). "
                "Send the encoded image file's bytes."
            )
        return
    # Heavy optional dependency: TensorFlow (features imports it too), only to check tf.Examples;
    # a client sending images needs numpy alone.
    from google.protobuf.message import DecodeError
    from tensorflow.core.example import example_pb2

    from headsynth.data_schemas.features import IMAGE

    try:
        example = example_pb2.Example.FromString(payload)
    except DecodeError:
        raise ValueError(f"examples[{index}] is not a serialized tf.train.Example.") from None
    image = example.features.feature.get(IMAGE)
    if image is None or not image.bytes_list.value or image_format(image.bytes_list.value[0]) is None:
        raise ValueError(f"examples[{index}] has no JPEG/PNG {IMAGE!r} feature.")


def _describe(value: Any) -> str:
    text = json.dumps(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    return f"{type(value).__name__} {text}"
