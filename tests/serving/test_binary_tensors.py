"""The binary tensor data extension's framing is checked before KServe's decoder sees it: every broken
request is an ``InvalidInput`` naming the input and the problem, every well-formed one decodes with
KServe's own ``InferRequest.from_bytes``."""

from __future__ import annotations

import struct

import numpy as np
import orjson
import pytest
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferRequest

from components.serving.binary_tensors import check_binary_request

pytestmark = pytest.mark.unit


def bytes_tensor(*texts: bytes) -> bytes:
    return b"".join(struct.pack("<I", len(t)) + t for t in texts)


GOOD = [("customer_id", "INT64", [1], np.array([17], "<i8").tobytes()),
        ("amount", "FP64", [1], np.array([42.5], "<f8").tobytes()),
        ("merchant_category", "BYTES", [1], bytes_tensor(b"grocery")),
        ("hour", "INT64", [1], np.array([13], "<i8").tobytes())]


def request(tensors=GOOD, extra: dict | None = None, sizes: dict | None = None, tail: bytes = b"") -> tuple[bytes, str]:
    """A binary request: JSON part (with ``extra`` merged into the named inputs), then the data."""
    inputs = []
    for name, datatype, shape, data in tensors:
        tensor = {"name": name, "datatype": datatype, "shape": shape,
                  "parameters": {"binary_data_size": (sizes or {}).get(name, len(data))}}
        tensor.update((extra or {}).get(name, {}))
        inputs.append(tensor)
    header = orjson.dumps({"id": "binary-1", "inputs": inputs})
    return header + b"".join(t[3] for t in tensors) + tail, str(len(header))


def with_data(name: str, data: bytes, shape=None):
    return [(n, d, shape if n == name and shape is not None else s, data if n == name else b)
            for n, d, s, b in GOOD]


def test_a_well_formed_request_passes_and_kserve_decodes_it():
    body, length = request()
    assert check_binary_request(body, length)["id"] == "binary-1"
    decoded = InferRequest.from_bytes(body, int(length), "fraud")
    assert decoded.inputs[2].as_numpy().tolist() == [b"grocery"] or decoded.inputs[2].data == ["grocery"]


def test_two_rows_of_every_kind_pass():
    tensors = [("customer_id", "INT32", [2, 1], np.array([17, 18], "<i4").tobytes()),
               ("amount", "FP32", [2], np.array([1.5, 2.5], "<f4").tobytes()),
               ("merchant_category", "BYTES", [2], bytes_tensor(b"grocery", b"")),
               ("hour", "UINT8", [2], bytes([1, 2]))]
    body, length = request(tensors)
    check_binary_request(body, length)
    InferRequest.from_bytes(body, int(length), "fraud")


@pytest.mark.parametrize("header_value", ["abc", "", "12.0", "-5", "0", "999999"])
def test_a_header_that_is_not_the_json_length(header_value):
    body, _ = request()
    with pytest.raises(InvalidInput, match="inference-header-content-length must be the byte length"):
        check_binary_request(body, header_value)


@pytest.mark.parametrize("case, make, message", [
    ("short fixed", lambda: request(with_data("amount", b"\x00" * 7)), r"input 'amount': FP64 of shape \[1\] takes 8"),
    ("long fixed", lambda: request(with_data("customer_id", b"\x00" * 16)), r"INT64 of shape \[1\] takes 8 .* is 16"),
    ("shape larger", lambda: request(with_data("customer_id", b"\x00" * 8, [2])), r"shape \[2\] takes 16"),
    ("negative shape", lambda: request(with_data("customer_id", b"\x00" * 8, [-1])), "non-negative integers"),
    ("size past the end", lambda: request(sizes={"hour": 80}), "binary_data_size 80 runs past the end"),
    ("negative size", lambda: request(sizes={"hour": -8}), "binary_data_size must be a non-negative integer"),
    ("size a string", lambda: request(sizes={"hour": "8"}), "binary_data_size must be a non-negative integer"),
    ("size a bool", lambda: request(sizes={"hour": True}), "binary_data_size must be a non-negative integer"),
    ("bytes prefix too long", lambda: request(with_data("merchant_category", struct.pack("<I", 100) + b"grocery")),
     "BYTES element 0 says 100 bytes but 7 are left"),
    ("bytes prefix cut off", lambda: request(with_data("merchant_category", b"\x07\x00")), "cut-off length prefix"),
    ("bytes not utf-8", lambda: request(with_data("merchant_category", bytes_tensor(b"\xff\xfe"))), "not UTF-8"),
    ("bytes count", lambda: request(with_data("merchant_category", bytes_tensor(b"a", b"b"))),
     "shape holds 1 BYTES elements but the binary data has 2"),
    ("unknown datatype", lambda: request(extra={"amount": {"datatype": "BF16"}}), "datatype 'BF16' is not"),
    ("data and size", lambda: request(extra={"customer_id": {"data": [999]}}), "both data and"),
    ("neither", lambda: request(extra={"hour": {"parameters": {}}}), "neither data nor"),
    ("trailing bytes", lambda: request(tail=b"junk"), "4 bytes follow the last input"),
    ("parameters a list", lambda: request(extra={"hour": {"parameters": [8]}}), "parameters must be an object"),
    ("input without name", lambda: request(extra={"hour": {"name": None}}), r"inputs\[3\] must be a tensor"),
])
def test_broken_framing_names_the_input_and_the_problem(case, make, message):
    body, length = make()
    with pytest.raises(InvalidInput, match=message):
        check_binary_request(body, length)


@pytest.mark.parametrize("header, message", [
    (b"[]", '"inputs" list'), (b'{"id": 1}', '"inputs" list'), (b"{nope", "not valid JSON"),
    (b'{"inputs": [], "outputs": [{"parameters": {}}]}', r"outputs\[0\] must be an object with a name"),
    (b'{"inputs": [], "parameters": "x"}', "the request: parameters must be an object"),
])
def test_a_broken_json_part_is_named(header, message):
    with pytest.raises(InvalidInput, match=message):
        check_binary_request(header, str(len(header)))
