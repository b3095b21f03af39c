"""An unexpected exception (here: the prediction log's disk is full) is a JSON 500 with the request id,
counted in the request metrics and logged with its traceback, on the fast path and KServe's route; over
gRPC it is INTERNAL with the request id (KServe's interceptor would call an InferenceError INVALID_ARGUMENT).

The predictor is the real one over the session's trained platform; only the log's disk is replaced,
by one that fails, because a full disk cannot be made on demand.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
import orjson
import pytest
from grpc import StatusCode
from grpc_interceptor.exceptions import GrpcException
from kserve.errors import InferenceError
from kserve.protocol.infer_type import InferInput, InferRequest
from prometheus_client import REGISTRY
from starlette.applications import Starlette

from components.serving.fast_path import FastPath
from tests.serving.conftest import loaded_predictor

pytestmark = pytest.mark.integration

BODY = {"instances": [{"customer_id": 17, "amount": 42.5, "merchant_category": "grocery", "hour": 13}]}


class FullDisk:
    closed = False

    def append(self, records):
        raise OSError(28, "No space left on device")

    def append_columns(self, columns, rows):
        raise OSError(28, "No space left on device")

    def close(self):
        pass


@pytest.fixture(scope="module")
def broken_predictor(trained_home):
    predictor = loaded_predictor(trained_home)
    predictor.scoring.log = FullDisk()
    yield predictor
    predictor.stop()


def count_500(protocol: str) -> float:
    return REGISTRY.get_sample_value("shipyard_requests_total", {
        "model": "fraud", "version": "1", "protocol": protocol, "code": "500"}) or 0.0


async def post(app, path: str, body: dict, request_id: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        return await client.post(path, content=orjson.dumps(body), headers={"x-request-id": request_id})


def test_fast_path_answers_a_json_500_with_the_request_id(broken_predictor, caplog):
    app = FastPath(Starlette(), predictor=broken_predictor)
    before = count_500("v1")
    with caplog.at_level(logging.ERROR, logger="components.serving"):
        response = asyncio.run(post(app, "/v1/models/fraud:predict", BODY, "disk-full-1"))
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json()["request_id"] == "disk-full-1" and "internal error" in response.json()["error"]
    assert count_500("v1") == before + 1
    [record] = [r for r in caplog.records if "disk-full-1" in r.getMessage()]
    assert record.exc_info is not None and "No space left" in str(record.exc_info[1])


def test_kserve_route_raises_an_inference_error_naming_the_request_id(broken_predictor, caplog):
    with caplog.at_level(logging.ERROR, logger="components.serving"), pytest.raises(InferenceError) as failure:
        asyncio.run(broken_predictor.predict(BODY, headers={"x-request-id": "disk-full-2"}))
    assert "disk-full-2" in str(failure.value.reason)
    assert any(r.exc_info is not None and "disk-full-2" in r.getMessage() for r in caplog.records)


def test_grpc_internal_error_is_internal_with_the_request_id(broken_predictor, caplog):
    inputs = [InferInput(name, [1], datatype, [BODY["instances"][0][name]]) for name, datatype in
              (("customer_id", "INT64"), ("amount", "FP64"), ("merchant_category", "BYTES"), ("hour", "INT64"))]
    request = InferRequest("fraud", inputs, request_id="disk-full-3", from_grpc=True)
    before = count_500("grpc")
    with caplog.at_level(logging.ERROR, logger="components.serving"), pytest.raises(GrpcException) as failure:
        asyncio.run(broken_predictor.predict(request, headers={"x-request-id": "disk-full-3"}))
    assert failure.value.status_code == StatusCode.INTERNAL and "disk-full-3" in failure.value.details
    assert count_500("grpc") == before + 1
    assert any(r.exc_info is not None and "disk-full-3" in r.getMessage() for r in caplog.records)


def test_an_exception_escaping_kserves_route_is_counted_and_timed(broken_predictor):
    """A 500 from the middleware's own net (KServe's route raised) is in the request counter and in the
    duration histogram alike, so their counts agree."""
    async def kserve_route_that_raises(scope, receive, send):
        raise RuntimeError("KServe's route failed")

    def timed() -> float:
        return REGISTRY.get_sample_value("shipyard_request_duration_seconds_count", {
            "model": "fraud", "version": "1", "protocol": "v1"}) or 0.0

    app = FastPath(kserve_route_that_raises, predictor=broken_predictor, fast=False)
    counted, durations = count_500("v1"), timed()
    response = asyncio.run(post(app, "/v1/models/fraud:predict", BODY, "route-raised-1"))
    assert response.status_code == 500 and response.json()["request_id"] == "route-raised-1"
    assert count_500("v1") == counted + 1 and timed() == durations + 1
