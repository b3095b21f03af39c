import math

import pytest
from kserve.errors import InvalidInput

from components.serving.requests import MAX_INSTANCES, parse_v1
from shipyard.usecases.fraud import USE_CASE

pytestmark = pytest.mark.unit

GOOD = {"customer_id": 17, "amount": 42.5, "merchant_category": "grocery", "hour": 13}


def test_valid_instances_become_typed_rows():
    frame = parse_v1({"instances": [GOOD, {**GOOD, "customer_id": 18, "amount": 3}]}, USE_CASE)
    assert frame.to_dict("records")[1] == {"customer_id": 18, "amount": 3.0, "merchant_category": "grocery",
                                           "hour": 13}
    assert list(frame.columns) == ["customer_id", "amount", "merchant_category", "hour"]


def test_json_bytes_without_content_type_are_accepted():
    assert len(parse_v1(b'{"instances": [{"customer_id": 1, "amount": 1.0, "merchant_category": "fuel", '
                        b'"hour": 0}]}', USE_CASE)) == 1


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
