"""Validate scoring requests (v1 and Open Inference Protocol v2) against the use case's request fields.

Every problem becomes ``kserve.errors.InvalidInput`` (HTTP 400, JSON ``{"error": ...}``) naming the
instance or tensor and the field, so a client never sees a 500 for its own mistake. Both protocols
produce the same columnar ``Batch``: plain lists per field, cheaper than a DataFrame per request.
"""

from __future__ import annotations

import json
import math
import random
import struct
from dataclasses import dataclass
from typing import Any

import orjson
from kserve.errors import InvalidInput

from shipyard.usecase import RequestField, UseCase

MAX_INSTANCES = 1000
MAX_BODY_BYTES = 1 << 20  # 1,000 instances of this contract fit in well under 200 KB
MAX_STRING_LENGTH = 256  # a category or a request id; longer is a client bug, not a merchant
# Whole numbers become Feast INT64 entity keys and model inputs: the signed 64-bit range is their domain.
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
# ONNX Runtime scores in float32: a larger number would reach the model as infinity.
FLOAT32_MAX = 3.4028234663852886e38

# Open Inference Protocol datatypes each kind of request field accepts.
V2_DATATYPES = {
    "int": {"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"},
    "float": {"FP16", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"},
    "category": {"BYTES"},
}

# What an integer datatype can hold: a value a binary client could not send in it is refused in JSON too.
INTEGER_RANGES = {**{f"INT{bits}": (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) for bits in (8, 16, 32, 64)},
                  **{f"UINT{bits}": (0, (1 << bits) - 1) for bits in (8, 16, 32, 64)}}


@dataclass(frozen=True)
class Batch:
    """Validated request fields, one list per field in contract order, plus the client's request id."""

    columns: dict[str, list]
    size: int
    request_id: str | None = None


def decode_body(payload: Any) -> Any:
    """KServe hands over raw bytes when the Content-Type is not JSON: accept JSON bytes anyway.

    orjson rejects NaN, Infinity, 1e400 and integers past 64 bits as invalid JSON, which would leave
    the client without the field's name; on that (rare) path Python's own parser reads them, and the
    field checks then name the field and the problem.
    """
    if isinstance(payload, (bytes, bytearray, memoryview, str)):
        try:
            return orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            bom = payload.startswith("\ufeff") if isinstance(payload, str) else bytes(payload[:3]) == b"\xef\xbb\xbf"
            if bom:  # orjson refuses it; Python's parser, below, would skip it (KServe's route refuses it)
                raise InvalidInput("request body starts with a byte order mark; send JSON without one") from None
            try:
                # As UTF-8 only: json.loads would also read UTF-16 and UTF-32 bodies (the spec's JSON is UTF-8).
                return json.loads(bytes(payload).decode("utf-8") if not isinstance(payload, str) else payload)
            except (ValueError, RecursionError):
                raise InvalidInput(f"request body is not valid JSON: {exc}") from None
    return payload


def check_value(spec: RequestField, value: Any, where: str) -> Any:
    """``value`` in the full domain of ``spec``, converted to its Python type, or ``InvalidInput``."""
    if value is None:
        raise InvalidInput(f"{where}: missing field {spec.name!r}")
    if spec.kind == "category":
        if not isinstance(value, str) or not value:
            raise InvalidInput(f"{where}: field {spec.name!r} must be a non-empty string")
        if len(value) > MAX_STRING_LENGTH:
            raise InvalidInput(f"{where}: field {spec.name!r} has {len(value)} characters; at most "
                               f"{MAX_STRING_LENGTH}")
        if not is_unicode_text(value):
            raise InvalidInput(f"{where}: field {spec.name!r} holds a lone surrogate (such as \\ud800), not text")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{where}: field {spec.name!r} must be a number, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(f"{where}: field {spec.name!r} must be finite, got {value!r}")
    if spec.kind == "int":
        if isinstance(value, float) and not value.is_integer():
            raise InvalidInput(f"{where}: field {spec.name!r} must be a whole number, got {value!r}")
        low, high = INT64_MIN, INT64_MAX
    else:
        low, high = -FLOAT32_MAX, FLOAT32_MAX
    if spec.minimum is not None:
        low = max(low, spec.minimum)
    if spec.maximum is not None:
        high = min(high, spec.maximum)
    if value < low:
        raise InvalidInput(f"{where}: field {spec.name!r} must be >= {_show(low)}, got {_show(value)}")
    if value > high:
        raise InvalidInput(f"{where}: field {spec.name!r} must be <= {_show(high)}, got {_show(value)}")
    return int(value) if spec.kind == "int" else float(value)


def _show(number: int | float) -> str:
    """A bound or value for an error message, without a 4,000-digit integer."""
    text = repr(number)
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} digits)"


def new_request_id() -> str:
    """A fresh request id: 32 random hex digits, the form of ``uuid4().hex``, from the process's own
    generator (seeded from the OS at start) rather than a ``getrandom`` system call per request."""
    return f"{random.getrandbits(128):032x}"


def check_request_id(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_STRING_LENGTH:
        raise InvalidInput(f"{where} must be a string of at most {MAX_STRING_LENGTH} characters")
    if not is_unicode_text(value):
        raise InvalidInput(f"{where} holds a lone surrogate (such as \\ud800), not text")
    return value


def check_request_id_header(value: str | None) -> str | None:
    """The ``x-request-id`` header's value: a request id, and ASCII. Both paths read header bytes as latin-1
    (HTTP's own rule), so a UTF-8 id would be logged and returned garbled; the v2 body's "id" takes any text."""
    checked = check_request_id(value, "header x-request-id")
    if checked is not None and not checked.isascii():
        raise InvalidInput("header x-request-id must be ASCII; send other text as the v2 body's \"id\"")
    return checked


def is_unicode_text(value: str) -> bool:
    """False for a string with a lone surrogate (JSON's "\\ud800" escape, which Python's parser lets through):
    it cannot be encoded, so the model runtime and the prediction log's Parquet writer would fail on it."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_count(count: int, what: str) -> None:
    if count < 1:
        raise InvalidInput(f"{what} must be non-empty")
    if count > MAX_INSTANCES:
        raise InvalidInput(f"{what} has {count} items; at most {MAX_INSTANCES} per request")


def parse_v1(payload: Any, use_case: UseCase) -> Batch:
    """``{"instances": [{field: value, ...}, ...]}`` -> one typed value per field and instance."""
    payload = decode_body(payload)
    if not isinstance(payload, dict) or "instances" not in payload:
        raise InvalidInput('request body must be a JSON object with an "instances" list')
    instances = payload["instances"]
    if not isinstance(instances, list):
        raise InvalidInput('"instances" must be a non-empty list')
    _check_count(len(instances), '"instances"')
    fields = use_case.request_fields
    names = {f.name for f in fields}
    columns: dict[str, list] = {f.name: [] for f in fields}
    for i, instance in enumerate(instances):
        if not isinstance(instance, dict):
            raise InvalidInput(f"instances[{i}] must be an object with fields {', '.join(f.name for f in fields)}")
        if len(instance) != len(fields) or not names.issuperset(instance):
            unknown = sorted(set(instance) - names)
            if unknown:
                raise InvalidInput(f"instances[{i}]: unknown field(s) {', '.join(map(repr, unknown))}")
        for spec in fields:
            columns[spec.name].append(check_value(spec, instance.get(spec.name), f"instances[{i}]"))
    return Batch(columns, len(instances))


def _tensor_rows(tensor: dict, spec: RequestField) -> list:
    where = f"input {spec.name!r}"
    datatype, shape, data = tensor.get("datatype"), tensor.get("shape"), tensor.get("data")
    if not isinstance(datatype, str) or datatype not in V2_DATATYPES[spec.kind]:
        allowed = ", ".join(sorted(V2_DATATYPES[spec.kind]))
        raise InvalidInput(f"{where}: datatype {datatype!r} is not one of {allowed}")
    if (not isinstance(shape, list) or not 1 <= len(shape) <= 2 or
            not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape) or
            (len(shape) == 2 and shape[1] != 1)):
        raise InvalidInput(f"{where}: shape must be [n] or [n, 1], got {shape!r}")
    if not isinstance(data, list):
        raise InvalidInput(f"{where}: data must be a list")
    if len(shape) == 2 and data and all(isinstance(row, list) for row in data):
        # The spec's "natural" multi-dimensional form of an [n, 1] tensor: one one-element list per row.
        wider = next((row for row in data if len(row) != 1), None)
        if wider is not None:
            raise InvalidInput(f"{where}: shape {shape} says one value per row, but a row of data has "
                               f"{len(wider)} (ragged)")
        data = [row[0] for row in data]
    if len(data) != shape[0]:
        raise InvalidInput(f"{where}: shape {shape} says {shape[0]} values but data has {len(data)} (ragged)")
    rows = [check_value(spec, value, f"{where}[{i}]") for i, value in enumerate(data)]
    if datatype in INTEGER_RANGES and not (datatype == "INT64" and spec.kind == "int"):  # that one: checked
        low, high = INTEGER_RANGES[datatype]
        for i, value in enumerate(rows):
            if not float(value).is_integer() or not low <= value <= high:
                raise InvalidInput(f"{where}[{i}]: {_show(value)} is not a {datatype} value")
    return rows


def parse_v2(payload: Any, use_case: UseCase) -> Batch:
    """Open Inference Protocol: one tensor per request field, named after it, all of the same length."""
    payload = decode_body(payload)
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list):
        raise InvalidInput('request body must be a JSON object with an "inputs" list of tensors')
    by_name: dict[str, dict] = {}
    for i, tensor in enumerate(payload["inputs"]):
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            raise InvalidInput(f"inputs[{i}] must be a tensor object with a name")
        if len(tensor["name"]) > MAX_STRING_LENGTH:
            raise InvalidInput(f"inputs[{i}]: name has {len(tensor['name'])} characters; at most {MAX_STRING_LENGTH}")
        if tensor["name"] in by_name:
            raise InvalidInput(f"input {tensor['name']!r} appears more than once")
        by_name[tensor["name"]] = tensor
    fields = use_case.request_fields
    unknown = sorted(set(by_name) - {f.name for f in fields})
    if unknown:
        raise InvalidInput(f"unknown input(s) {', '.join(map(repr, unknown))}")
    for spec in fields:
        if spec.name not in by_name:
            raise InvalidInput(f"missing input {spec.name!r}")
    columns = {spec.name: _tensor_rows(by_name[spec.name], spec) for spec in fields}
    sizes = {name: len(rows) for name, rows in columns.items()}
    if len(set(sizes.values())) != 1:
        raise InvalidInput(f"inputs have different lengths (ragged): {sizes}")
    _check_count(sizes[fields[0].name], "inputs")
    request_id = check_request_id(payload.get("id"), 'request "id"')
    return Batch(columns, sizes[fields[0].name], request_id)


def check_requested_outputs(request: Any, use_case: UseCase) -> None:
    """What a KServe ``InferRequest`` (REST or gRPC) asks of its outputs, checked before anything is scored.

    - Names: this model has one output. KServe checks names only when it writes a REST answer, after the
      request was scored and logged, and ignores them over gRPC.
    - No classification extension (tritonclient's ``class_count``): KServe would ignore it and answer the
      raw scores, which a client expecting "score:index" strings misreads.
    - The REST binary extension's flags are booleans: KServe would take any truthy value for true.
    """
    outputs = request.request_outputs or []
    unknown = sorted({output.name for output in outputs} - {use_case.output_name})
    if unknown:
        raise InvalidInput(f"unknown output(s) {', '.join(map(repr, unknown))}; "
                           f"the model's output is {use_case.output_name!r}")
    for output in outputs:
        if "classification" in (output.parameters or {}):
            raise InvalidInput(f"output {output.name!r}: the classification extension (class_count) is not "
                               "supported; the output is the score itself")
    if request.from_grpc:  # gRPC has raw contents instead, and protobuf parameters
        return
    flags = [("binary_data_output", (request.parameters or {}).get("binary_data_output"))]
    flags += [(f"output {output.name!r}: binary_data", output.binary_data) for output in outputs]
    for where, value in flags:
        if value is not None and not isinstance(value, bool):
            raise InvalidInput(f"{where} must be true or false, got {value!r}")


def _plain(value: Any, where: str) -> Any:
    """A tensor element from KServe's decoding (numpy scalars, raw bytes) as a JSON-like value."""
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"{where}: BYTES element is not UTF-8 text") from None
    return value.item() if hasattr(value, "item") else value


def infer_request_payload(request: Any) -> dict:
    """A KServe ``InferRequest`` (REST JSON or binary, or gRPC) as the JSON form ``parse_v2`` reads."""
    inputs = []
    for tensor in request.inputs:
        where = f"input {tensor.name!r}"
        data = tensor.data
        if data is None or (isinstance(data, list) and not data):  # binary tensor data: KServe decodes it
            try:
                data = tensor.as_numpy()
            except (ValueError, TypeError, struct.error) as exc:  # struct: a BYTES length prefix past the end
                raise InvalidInput(f"{where}: the data sent does not fill datatype {tensor.datatype} and shape "
                                   f"{list(tensor.shape)} ({exc})") from None
        data = data.reshape(-1).tolist() if hasattr(data, "reshape") else data  # JSON data stays as sent
        inputs.append({"name": tensor.name, "shape": list(tensor.shape), "datatype": tensor.datatype,
                       "data": [_plain(v, where) for v in data] if isinstance(data, list) else data})
    return {"id": request.id or None, "inputs": inputs}
