"""The request contract at its edges: the last accepted value and the first refused one, and the
message naming what was wrong (cases found by `make mutation`: mutants of these checks survived)."""

import pytest
from kserve.errors import InvalidInput

from components.serving.requests import MAX_INSTANCES, MAX_STRING_LENGTH, parse_v1, parse_v2
from usecases.fraud import USE_CASE

pytestmark = pytest.mark.unit

GOOD = {"customer_id": 17, "amount": 42.5, "merchant_category": "grocery", "hour": 13}
V2_TYPES = {"customer_id": "INT64", "amount": "FP32", "merchant_category": "BYTES", "hour": "INT8"}


def v2(rows, **extra):
    inputs = [{"name": name, "shape": [len(rows)], "datatype": datatype, "data": [r[name] for r in rows]}
              for name, datatype in V2_TYPES.items()]
    return {"inputs": inputs, **extra}


def refused(parse, payload) -> str:
    with pytest.raises(InvalidInput) as error:
        parse(payload, USE_CASE)
    return str(error.value)


def test_a_v2_input_the_contract_does_not_have_is_refused_by_name():
    payload = v2([GOOD])
    payload["inputs"].append({"name": "zip_code", "shape": [1], "datatype": "INT64", "data": [12345]})
    assert "unknown input(s) 'zip_code'" in refused(parse_v2, payload)


def test_every_unknown_v1_field_is_named():
    message = refused(parse_v1, {"instances": [{**GOOD, "b_extra": 1, "a_extra": 2}]})
    assert message == "instances[0]: unknown field(s) 'a_extra', 'b_extra'"


@pytest.mark.parametrize("parse, payload", [
    (parse_v1, lambda n: {"instances": [GOOD] * n}),
    (parse_v2, lambda n: v2([GOOD] * n)),
])
def test_the_instance_limit_is_inclusive(parse, payload):
    assert parse(payload(MAX_INSTANCES), USE_CASE).size == MAX_INSTANCES
    assert f"has {MAX_INSTANCES + 1} items; at most {MAX_INSTANCES}" in refused(parse, payload(MAX_INSTANCES + 1))


def test_the_string_length_limit_is_inclusive_for_categories_request_ids_and_input_names():
    longest = "x" * MAX_STRING_LENGTH
    assert parse_v1({"instances": [{**GOOD, "merchant_category": longest}]}, USE_CASE).size == 1
    message = refused(parse_v1, {"instances": [{**GOOD, "merchant_category": longest + "x"}]})
    assert message == (f"instances[0]: field 'merchant_category' has {MAX_STRING_LENGTH + 1} characters; "
                       f"at most {MAX_STRING_LENGTH}")

    assert parse_v2(v2([GOOD], id=longest), USE_CASE).request_id == longest
    assert "at most" in refused(parse_v2, v2([GOOD], id=longest + "x"))

    payload = v2([GOOD])
    payload["inputs"].append({"name": "n" * (MAX_STRING_LENGTH + 1), "shape": [1], "datatype": "INT64", "data": [1]})
    assert refused(parse_v2, payload) == f"inputs[4]: name has {MAX_STRING_LENGTH + 1} characters; at most 256"


@pytest.mark.parametrize("value, message", [
    (-1, "field 'customer_id' must be >= 0, got -1"),
    (2**63, "field 'customer_id' must be <= 9223372036854775807, got 9223372036854775808"),
    (10**50, "must be <= 9223372036854775807, got 10000000000000000000...(51 digits)"),
    ("17", "field 'customer_id' must be a number, got str"),
])
def test_out_of_domain_values_show_the_bound_and_the_value(value, message):
    assert message in refused(parse_v1, {"instances": [{**GOOD, "customer_id": value}]})


@pytest.mark.parametrize("shape", [[1, 2], [1, 1, 1], [True], [-1], []])
def test_v2_shapes_other_than_n_or_n_by_1_are_refused(shape):
    payload = v2([GOOD])
    payload["inputs"][0]["shape"] = shape
    assert f"input 'customer_id': shape must be [n] or [n, 1], got {shape!r}" == refused(parse_v2, payload)


def test_a_v2_batch_of_n_by_1_tensors_has_n_rows_whatever_the_first_field():
    rows = [GOOD, {**GOOD, "customer_id": 18}]
    payload = v2(rows)
    for tensor in payload["inputs"]:
        tensor["shape"] = [2, 1]
    batch = parse_v2(payload, USE_CASE)
    assert batch.size == 2 and batch.columns["customer_id"] == [17, 18]
