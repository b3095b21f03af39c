"""KServe's FastAPI errors become the spec's {"error": ...}, naming what is wrong with the request."""

import asyncio

import orjson
import pytest

from components.serving.kserve_answers import errors_as_error_key, rewriting, without_null_parameters

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


def sent_through(rule, ok_when: bytes | None, status: int, body: bytes) -> tuple[int, bytes]:
    """``body`` answered with ``status`` through ``rewriting(send, rule, ok_when=ok_when)``."""
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    async def answer() -> None:
        rewritten = rewriting(send, rule, ok_when=ok_when)
        await rewritten({"type": "http.response.start", "status": status,
                         "headers": [(b"content-type", b"application/json"),
                                     (b"content-length", str(len(body)).encode())]})
        await rewritten({"type": "http.response.body", "body": body})

    asyncio.run(answer())
    start, *chunks = sent
    answered = b"".join(c.get("body", b"") for c in chunks)
    assert dict(start["headers"])[b"content-length"] == str(len(answered)).encode()
    return start["status"], answered


def test_a_null_parameters_object_is_dropped_from_an_answer():
    body = b'{"model_name": "fraud", "parameters": null, "outputs": [{"name": "p", "parameters": null}]}'
    status, answered = sent_through(without_null_parameters, b"null", 200, body)
    assert status == 200 and orjson.loads(answered) == {"model_name": "fraud", "outputs": [{"name": "p"}]}


def test_an_answer_without_a_null_is_passed_as_it_came():
    """Not decoded and encoded again: the spaces orjson would drop are still there."""
    body = b'{"predictions": [0.25],  "model_name": "fraud"}'
    for rule, ok_when in ((without_null_parameters, b"null"), (errors_as_error_key, None)):
        assert sent_through(rule, ok_when, 200, body) == (200, body)


def test_errors_are_rewritten_whatever_ok_when_says():
    body = orjson.dumps({"detail": "Not Found"})
    for ok_when in (None, b"null", b""):
        status, answered = sent_through(errors_as_error_key, ok_when, 404, body)
        assert (status, orjson.loads(answered)) == (404, {"error": "Not Found"})
