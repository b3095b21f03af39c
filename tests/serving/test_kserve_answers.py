"""KServe's FastAPI errors become the spec's {"error": ...}, naming what is wrong with the request."""

import pytest

from components.serving.kserve_answers import errors_as_error_key

pytestmark = pytest.mark.unit


def test_a_schema_error_names_the_field_not_the_raw_bytes_alternative():
    detail = [{"loc": ["body", "InferenceRequest", "parameters", "a", "int"], "msg": "Input should be a valid integer"},
              {"loc": ["body", "bytes"], "msg": "Input should be a valid bytes"}]
    status, body = errors_as_error_key(422, {"detail": detail})
    assert status == 400
    assert body == {"error": "request does not match the Open Inference Protocol schema: "
                             "body.InferenceRequest.parameters.a.int: Input should be a valid integer"}


def test_the_raw_bytes_complaint_stays_when_it_is_the_only_one():
    status, body = errors_as_error_key(422, {"detail": [{"loc": ["body", "bytes"], "msg": "Input should be bytes"}]})
    assert status == 400 and "body.bytes: Input should be bytes" in body["error"]


def test_other_answers_pass_unchanged():
    assert errors_as_error_key(200, {"outputs": []}) == (200, {"outputs": []})
    assert errors_as_error_key(404, {"detail": "Not Found"}) == (404, {"error": "Not Found"})


def test_a_503_the_predictor_raised_says_its_own_message_alone():
    """KServe's ServerNotReady puts "Server is not ready. " before the predictor's message; its own bare
    readiness answer keeps its words."""
    assert errors_as_error_key(503, {"error": "Server is not ready. online feature store unavailable: timeout"}) == (
        503, {"error": "online feature store unavailable: timeout"})
    assert errors_as_error_key(503, {"error": "Server is not ready."}) == (503, {"error": "Server is not ready."})
