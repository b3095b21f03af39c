import math

import orjson
import pytest
from kserve.errors import InvalidInput

from components.serving.requests import MAX_INSTANCES, check_request_id_header, parse_v1, parse_v2
from usecases.fraud import USE_CASE

pytestmark = pytest.mark.unit

GOOD = {"customer_id": 17, "amount": 42.5, "merchant_category": "grocery", "hour": 13}


V2_TYPES = {"customer_id": "INT64", "amount": "FP32", "merchant_category": "BYTES", "hour": "INT8"}


def v2(rows, **overrides):
    inputs = [{"name": name, "shape": [len(rows)], "datatype": datatype, "data": [r[name] for r in rows]}
              for name, datatype in V2_TYPES.items()]
    for tensor in inputs:
        tensor.update(overrides.get(tensor["name"], {}))
    return {"inputs": inputs}


def test_valid_instances_become_typed_columns():
    batch = parse_v1({"instances": [GOOD, {**GOOD, "customer_id": 18, "amount": 3, "hour": 2.0}]}, USE_CASE)
    assert batch.size == 2
    assert batch.columns == {"customer_id": [17, 18], "amount": [42.5, 3.0], "merchant_category": ["grocery"] * 2,
                             "hour": [13, 2]}
    assert list(batch.columns) == ["customer_id", "amount", "merchant_category", "hour"]
    assert [type(v) for v in (batch.columns["amount"][1], batch.columns["hour"][1])] == [float, int]


def test_json_bytes_without_content_type_are_accepted():
    assert parse_v1(b'{"instances": [{"customer_id": 1, "amount": 1.0, "merchant_category": "fuel", '
                    b'"hour": 0}]}', USE_CASE).size == 1


def test_v2_tensors_become_the_same_columns_as_v1():
    rows = [GOOD, {**GOOD, "customer_id": 18, "amount": 3}]
    batch = parse_v2({"id": "r-1", **v2(rows, hour={"shape": [2, 1]})}, USE_CASE)
    assert batch.columns == parse_v1({"instances": rows}, USE_CASE).columns
    assert (batch.size, batch.request_id) == (2, "r-1")


def test_v2_data_in_the_natural_nested_form_is_the_flat_form():
    """The spec lets tensor data come multi-dimensional or flattened: an [n, 1] tensor as n one-element rows."""
    rows = [GOOD, {**GOOD, "customer_id": 18, "amount": 3}]
    nested = v2(rows)
    for tensor in nested["inputs"]:
        tensor.update(shape=[2, 1], data=[[value] for value in tensor["data"]])
    assert parse_v2(nested, USE_CASE).columns == parse_v2(v2(rows), USE_CASE).columns


def test_values_an_integer_datatype_holds_are_accepted():
    """The range check refuses only what the declared datatype cannot hold (INT8 hour 13 and the rest)."""
    batch = parse_v2(v2([GOOD], customer_id={"datatype": "UINT8", "data": [255]},
                        amount={"datatype": "INT16", "data": [42]}), USE_CASE)
    assert batch.columns["customer_id"] == [255] and batch.columns["amount"] == [42.0]


@pytest.mark.parametrize("payload, message", [
    (b"[1, 2", "not valid JSON"),
    ({"instances": [GOOD]}, '"inputs" list'),
    ({"inputs": [7]}, r"inputs\[0\] must be a tensor"),
    ({"inputs": v2([GOOD])["inputs"] * 2}, "appears more than once"),
    ({"inputs": v2([GOOD])["inputs"][1:]}, "missing input 'customer_id'"),
    (v2([GOOD], hour={"datatype": "FP64"}), "input 'hour': datatype 'FP64' is not one of"),
    (v2([GOOD], merchant_category={"datatype": "INT64"}), "input 'merchant_category': datatype"),
    (v2([GOOD], amount={"shape": [1, 2]}), r"shape must be \[n\] or \[n, 1\]"),
    (v2([GOOD], amount={"shape": "1"}), "shape must be"),
    (v2([GOOD], amount={"shape": [3]}), r"says 3 values but data has 1 \(ragged\)"),
    (v2([GOOD], amount={"data": [[1.0]]}), "must be a number"),
    (v2([GOOD], amount={"data": 1.0}), "data must be a list"),
    (v2([GOOD], amount={"shape": [1, 1], "data": [[1.0, 2.0]]}), r"one value per row, but a row of data has 2"),
    (v2([GOOD, GOOD], amount={"shape": [2, 1], "data": [[1.0], 2.0]}), r"input 'amount'\[0\]: .* must be a number"),
    (v2([GOOD], amount={"data": [math.nan]}), "must be finite"),
    (v2([GOOD], hour={"data": [24]}), r"input 'hour'\[0\]: field 'hour' must be <= 23"),
    (v2([GOOD, GOOD], hour={"shape": [1], "data": [1]}), r"different lengths \(ragged\)"),
    (v2([GOOD], customer_id={"datatype": "UINT8", "data": [300]}), r"'customer_id'\[0\]: 300 is not a UINT8 value"),
    (v2([GOOD], customer_id={"datatype": "INT32", "data": [2**40]}), r"1099511627776 is not a INT32 value"),
    (v2([GOOD], amount={"datatype": "INT8", "data": [200]}), r"200.0 is not a INT8 value"),
    (v2([GOOD], amount={"datatype": "INT64", "data": [12.5]}), r"input 'amount'\[0\]: 12.5 is not a INT64 value"),
    (b"\xef\xbb\xbf" + orjson.dumps(v2([GOOD])), "starts with a byte order mark"),
    (v2([]), "inputs must be non-empty"),
    (v2([GOOD] * (MAX_INSTANCES + 1)), "at most"),
])
def test_bad_v2_requests_name_the_problem(payload, message):
    with pytest.raises(InvalidInput, match=message):
        parse_v2(payload, USE_CASE)


@pytest.mark.parametrize("payload, message", [
    (b"not json", "not valid JSON"),
    ([GOOD], '"instances"'),
    ({"inputs": [GOOD]}, '"instances"'),
    ({"instances": []}, "non-empty"),
    ({"instances": "x"}, "non-empty list"),
    ({"instances": [GOOD] * (MAX_INSTANCES + 1)}, "at most"),
    ({"instances": [42]}, r"instances\[0\] must be an object"),
    ({"instances": [{k: v for k, v in GOOD.items() if k != "amount"}]}, "missing field 'amount'"),
    ({"instances": [{**GOOD, "amount": None}]}, "missing field 'amount'"),
    ({"instances": [{**GOOD, "amount": "12"}]}, "'amount' must be a number"),
    ({"instances": [{**GOOD, "amount": True}]}, "'amount' must be a number"),
    ({"instances": [{**GOOD, "amount": math.inf}]}, "'amount' must be finite"),
    ({"instances": [{**GOOD, "amount": math.nan}]}, "'amount' must be finite"),
    ({"instances": [{**GOOD, "amount": -1}]}, "'amount' must be >= 0"),
    ({"instances": [{**GOOD, "hour": 24}]}, "'hour' must be <= 23"),
    ({"instances": [{**GOOD, "hour": 1.5}]}, "'hour' must be a whole number"),
    ({"instances": [{**GOOD, "merchant_category": ""}]}, "non-empty string"),
    ({"instances": [GOOD, {**GOOD, "colour": "red"}]}, r"instances\[1\]: unknown field\(s\) 'colour'"),
])
def test_bad_requests_name_the_problem(payload, message):
    with pytest.raises(InvalidInput, match=message):
        parse_v1(payload, USE_CASE)


@pytest.mark.parametrize("value", [2**63, 10**20, 1e20, -(2**63) - 1, 2**64, 10**400])
def test_entity_keys_past_int64_name_the_field(value):
    with pytest.raises(InvalidInput, match="field 'customer_id' must be"):
        parse_v1({"instances": [{**GOOD, "customer_id": value}]}, USE_CASE)


def test_the_largest_int64_entity_key_is_accepted():
    assert parse_v1({"instances": [{**GOOD, "customer_id": 2**63 - 1}]}, USE_CASE).columns["customer_id"] == [2**63 - 1]


@pytest.mark.parametrize("raw", [b"9223372036854775808", b"18446744073709551616", b"1e20", b"NaN", b"-Infinity",
                                 b"1e400"])
def test_raw_json_numbers_orjson_refuses_still_name_the_field(raw):
    body = b'{"instances": [{"customer_id": ' + raw + b', "amount": 1.0, "merchant_category": "x", "hour": 1}]}'
    with pytest.raises(InvalidInput, match="field 'customer_id' must be"):
        parse_v1(body, USE_CASE)


def test_strings_and_request_ids_are_bounded():
    with pytest.raises(InvalidInput, match="'merchant_category' has 257 characters; at most 256"):
        parse_v1({"instances": [{**GOOD, "merchant_category": "x" * 257}]}, USE_CASE)
    with pytest.raises(InvalidInput, match='request "id" must be a string of at most 256'):
        parse_v2({"id": "r" * 257, **v2([GOOD])}, USE_CASE)
    with pytest.raises(InvalidInput, match="input 'hour': datatype"):
        parse_v2(v2([GOOD], hour={"datatype": ["INT64"]}), USE_CASE)  # unhashable datatype: a 400, not a crash


def test_unbounded_numbers_stay_within_what_the_model_reads():
    from components.serving.requests import check_value
    from shipyard.usecase import RequestField

    with pytest.raises(InvalidInput, match="field 'x' must be <= 3.4"):
        check_value(RequestField("x", "float"), 3.5e38, "instances[0]")  # float32 would make it infinity
    with pytest.raises(InvalidInput, match="field 'n' must be >= -9223372036854775808"):
        check_value(RequestField("n", "int"), -(2**63) - 1, "instances[0]")


@pytest.mark.parametrize("escape", [b"\\ud800", b"\\udfff", b"x\\udc80y"])
def test_a_lone_surrogate_escape_is_a_400_naming_the_field(escape):
    """Valid JSON, but not text: the model runtime and the prediction log's Parquet writer cannot encode it."""
    body = b'{"instances": [{"customer_id": 1, "amount": 1.0, "merchant_category": "' + escape + b'", "hour": 1}]}'
    with pytest.raises(InvalidInput, match="field 'merchant_category' holds a lone surrogate"):
        parse_v1(body, USE_CASE)
    tensors = orjson.dumps(v2([GOOD]))[:-1] + b', "id": "' + escape + b'"}'
    with pytest.raises(InvalidInput, match='request "id" holds a lone surrogate'):
        parse_v2(tensors, USE_CASE)
    assert parse_v1({"instances": [{**GOOD, "merchant_category": "caf\u00e9 \U0001f600"}]}, USE_CASE).size == 1


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32-be"])
def test_a_body_that_is_not_utf8_is_a_400(encoding):
    body = orjson.dumps({"instances": [GOOD]}).decode().encode(encoding)
    with pytest.raises(InvalidInput, match="not valid JSON"):
        parse_v1(body, USE_CASE)


def test_a_request_id_header_must_be_ascii():
    """Header bytes are read as latin-1 (HTTP's rule): a UTF-8 id would come back and be logged garbled."""
    assert check_request_id_header("req-42") == "req-42" and check_request_id_header(None) is None
    with pytest.raises(InvalidInput, match="header x-request-id must be ASCII"):
        check_request_id_header("caf\u00e9".encode().decode("latin-1"))
