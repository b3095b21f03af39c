"""The framing of a request in the binary tensor data extension, checked before KServe decodes it.

A request with an ``Inference-Header-Content-Length`` header is a JSON header of that many bytes, then
each binary input's bytes in input order (``parameters.binary_data_size`` each). KServe's own route
decodes it (``InferRequest.from_bytes``), but a header that is not an integer, a size past the end of
the body, bytes that do not fill the tensor's shape, a broken BYTES length prefix or a malformed
header escape its decoder as ``ValueError``, ``KeyError`` or ``struct.error``: a 500 for a client's
mistake. ``check_binary_request`` finds those first and says which input is wrong; what it passes,
KServe decodes and the predictor validates like any other request (field domains, names, counts).
"""

from __future__ import annotations

import math
import struct
from typing import Any

from kserve.errors import InvalidInput

from components.serving.requests import decode_body

HEADER = "header inference-header-content-length"
# Bytes per element of each fixed-size Open Inference Protocol datatype (BYTES is length-prefixed).
ELEMENT_BYTES = {"BOOL": 1, "UINT8": 1, "INT8": 1, "UINT16": 2, "INT16": 2, "FP16": 2, "UINT32": 4,
                 "INT32": 4, "FP32": 4, "UINT64": 8, "INT64": 8, "FP64": 8}
DATATYPES = {*ELEMENT_BYTES, "BYTES"}


def json_length(text: str, body_size: int) -> int:
    """The header's value: the length of the JSON part, which the body must hold."""
    if not text.strip().isdigit() or not 0 < int(text) <= body_size:
        raise InvalidInput(f"{HEADER} must be the byte length of the request's JSON part, an integer from 1 "
                           f"to the body's {body_size} bytes; got {text[:40]!r}")
    return int(text)


def check_binary_request(body: bytes, header_value: str) -> dict:
    """The request's JSON part, once every input's binary data is where its header says and fills its
    tensor; ``InvalidInput`` naming the input otherwise."""
    length = json_length(header_value, len(body))
    request = decode_body(body[:length])
    if not isinstance(request, dict) or not isinstance(request.get("inputs"), list):
        raise InvalidInput('the JSON part must be an object with an "inputs" list of tensors')
    offset = length
    for i, tensor in enumerate(request["inputs"]):
        offset += _check_tensor(tensor, i, body, offset)
    if offset != len(body):
        raise InvalidInput(f"{len(body) - offset} bytes follow the last input's binary data; the inputs' "
                           f"binary_data_size values add up to {offset - length}")
    for i, output in enumerate(request.get("outputs") or []):
        if not isinstance(output, dict) or not isinstance(output.get("name"), str):
            raise InvalidInput(f"outputs[{i}] must be an object with a name")
        _check_parameters(output, f"output {output['name']!r}")
    _check_parameters(request, "the request")
    return request


def _check_parameters(item: dict, where: str) -> dict:
    parameters = item.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise InvalidInput(f"{where}: parameters must be an object, got {type(parameters).__name__}")
    return parameters or {}


def _check_tensor(tensor: Any, index: int, body: bytes, offset: int) -> int:
    """The number of binary bytes the tensor takes from ``offset`` on (0 for one with JSON data)."""
    if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
        raise InvalidInput(f"inputs[{index}] must be a tensor object with a name")
    where = f"input {tensor['name']!r}"
    datatype, shape = tensor.get("datatype"), tensor.get("shape")
    if datatype not in DATATYPES:
        raise InvalidInput(f"{where}: datatype {datatype!r} is not an Open Inference Protocol datatype")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                              for d in shape):
        raise InvalidInput(f"{where}: shape must be a list of non-negative integers, got {shape!r}")
    parameters = _check_parameters(tensor, where)
    if tensor.get("data") is not None:
        if "binary_data_size" in parameters:  # KServe would read the next input from this one's bytes
            raise InvalidInput(f"{where}: both data and parameters.binary_data_size; send one of them")
        return 0  # JSON data: the predictor checks it like any other
    if "binary_data_size" not in parameters:
        raise InvalidInput(f"{where}: neither data nor parameters.binary_data_size")
    size = parameters["binary_data_size"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidInput(f"{where}: binary_data_size must be a non-negative integer, got {size!r}")
    if offset + size > len(body):
        raise InvalidInput(f"{where}: binary_data_size {size} runs past the end of the body "
                           f"({len(body) - offset} bytes left)")
    count = math.prod(shape)
    if datatype == "BYTES":
        _check_bytes_elements(body[offset:offset + size], count, where)
    elif size != count * ELEMENT_BYTES[datatype]:
        raise InvalidInput(f"{where}: {datatype} of shape {shape} takes {count * ELEMENT_BYTES[datatype]} bytes "
                           f"of binary data; binary_data_size is {size}")
    return size


def _check_bytes_elements(data: bytes, count: int, where: str) -> None:
    """BYTES binary data: each element a 4-byte little-endian length, then that many bytes of UTF-8 text."""
    position = found = 0
    while position < len(data):
        if position + 4 > len(data):
            raise InvalidInput(f"{where}: BYTES element {found} has a cut-off length prefix")
        (size,) = struct.unpack_from("<I", data, position)
        position += 4
        if position + size > len(data):
            raise InvalidInput(f"{where}: BYTES element {found} says {size} bytes but "
                               f"{len(data) - position} are left")
        try:
            data[position:position + size].decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"{where}: BYTES element {found} is not UTF-8 text") from None
        position += size
        found += 1
    if found != count:
        raise InvalidInput(f"{where}: shape holds {count} BYTES elements but the binary data has {found}")
