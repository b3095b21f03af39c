"""Requests that arrive together are scored together (components/serving/coalescing.py), and each still
gets exactly its own answer, log records and errors.

The unit tests drive ``Coalescer`` with a plain scoring function; the integration tests send concurrent
requests through the fast path to the real predictor of the session's trained platform.
"""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest
from prometheus_client import REGISTRY
from starlette.applications import Starlette

from components.serving.coalescing import MAX_BATCH_REQUESTS, Coalescer
from components.serving.fast_path import FastPath
from components.serving.online_features import StoreUnavailable
from components.serving.prediction_log import read_prediction_log
from tests.serving.conftest import loaded_predictor


class Recorder:
    """A scoring function that returns each item's values doubled and remembers every call."""

    def __init__(self, fail_on=None, store_down: bool = False):
        self.calls: list[list] = []
        self.fail_on, self.store_down = fail_on, store_down

    def __call__(self, items):
        self.calls.append(list(items))
        if self.store_down:
            raise StoreUnavailable("timeout: Redis did not answer within 0.2 s")
        if self.fail_on in items:
            raise ValueError(f"cannot score {self.fail_on}")
        return [[2 * item] for item in items]


def gather(coalescer: Coalescer, items: list) -> list:
    async def all_of_them():
        return await asyncio.gather(*(coalescer.score(item) for item in items), return_exceptions=True)
    return asyncio.run(all_of_them())


def test_requests_of_one_loop_turn_are_scored_in_one_call_each_getting_its_own_answer():
    recorder = Recorder()
    assert gather(Coalescer(recorder), [1, 2, 3, 4]) == [[2], [4], [6], [8]]
    assert recorder.calls == [[1, 2, 3, 4]]


def test_a_lone_request_is_scored_alone_without_waiting_for_company():
    recorder = Recorder()
    coalescer = Coalescer(recorder)

    async def one_after_another():
        return [await coalescer.score(1), await coalescer.score(2)]
    assert asyncio.run(one_after_another()) == [[2], [4]]
    assert recorder.calls == [[1], [2]]


def test_a_flush_holds_at_most_max_batch_requests():
    recorder = Recorder()
    items = list(range(MAX_BATCH_REQUESTS + 5))
    assert gather(Coalescer(recorder), items) == [[2 * i] for i in items]
    assert [len(call) for call in recorder.calls] == [MAX_BATCH_REQUESTS, 5]


def test_only_the_request_that_fails_alone_gets_the_error():
    recorder = Recorder(fail_on=3)
    results = gather(Coalescer(recorder), [1, 2, 3, 4])
    assert results[:2] == [[2], [4]] and results[3] == [8]
    assert isinstance(results[2], ValueError) and "cannot score 3" in str(results[2])


def test_a_store_that_does_not_answer_fails_the_flush_once_not_once_per_request():
    recorder = Recorder(store_down=True)
    results = gather(Coalescer(recorder), [1, 2, 3])
    assert all(isinstance(r, StoreUnavailable) for r in results)
    assert len(recorder.calls) == 1  # a hung store is not asked again for every request of the flush


def test_a_request_whose_client_left_is_not_scored():
    recorder = Recorder()
    coalescer = Coalescer(recorder)

    async def one_cancelled():
        tasks = [asyncio.ensure_future(coalescer.score(item)) for item in (1, 2, 3)]
        await asyncio.sleep(0)  # every task has queued its item
        tasks[1].cancel()
        return await asyncio.gather(*tasks, return_exceptions=True)
    results = asyncio.run(one_cancelled())
    assert results[0] == [2] and results[2] == [6] and isinstance(results[1], asyncio.CancelledError)
    assert recorder.calls == [[1, 3]]


# --- through the fast path, with the real predictor ------------------------------------------------------

@pytest.fixture(scope="module")
def predictor(trained_home, tmp_path_factory):
    predictor = loaded_predictor(trained_home,
                                 SHIPYARD_PREDICTION_LOG_DIR=str(tmp_path_factory.mktemp("predictions")))
    yield predictor
    predictor.stop()


def body(i: int) -> bytes:
    return orjson.dumps({"instances": [{"customer_id": 1 + i % 40, "amount": 5.0 + 17 * i,
                                        "merchant_category": ["grocery", "travel", "online"][i % 3],
                                        "hour": i % 24}]})


def lookups() -> float:
    return REGISTRY.get_sample_value("shipyard_feature_lookup_duration_seconds_count", {
        "model": "fraud", "version": "1", "store": "sqlite"}) or 0.0


@pytest.mark.integration
def test_concurrent_requests_share_one_lookup_and_get_the_answers_they_get_alone(predictor):
    count = 24
    alone = [orjson.loads(asyncio.run(predictor.scoring.respond("v1", body(i), f"alone-{i}")).body)["predictions"]
             for i in range(count)]
    app = FastPath(Starlette(), predictor=predictor)

    async def together():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            return await asyncio.gather(*(
                client.post("/v1/models/fraud:predict", content=body(i), headers={"x-request-id": f"together-{i}"})
                for i in range(count)))
    before = lookups()
    responses = asyncio.run(together())
    assert [r.status_code for r in responses] == [200] * count
    assert [r.json()["predictions"] for r in responses] == alone
    assert lookups() - before < count  # some requests shared a feature lookup

    predictor.scoring.log.flush()
    log = read_prediction_log(predictor.settings.prediction_log_dir)
    logged = log[log["request_id"].str.startswith("together-")].set_index("request_id")
    assert len(logged) == count
    for i in range(count):  # each record carries its own request's inputs and score
        record = logged.loc[f"together-{i}"]
        assert record["amount"] == 5.0 + 17 * i and record["score"] == alone[i][0]


@pytest.mark.integration
def test_requests_queued_when_the_model_is_unloaded_get_a_503_not_a_500(trained_home, tmp_path):
    """An unload (repository.py) closes the prediction log under requests already waiting for their flush:
    they get the 503 a later request gets, on the fast path and on KServe's route, not a 500."""
    from kserve.errors import ServerNotReady

    predictor = loaded_predictor(trained_home, SHIPYARD_PREDICTION_LOG_DIR=str(tmp_path / "predictions"))
    scoring = predictor.scoring

    async def unload_while_queued():
        fast = [asyncio.ensure_future(scoring.respond("v1", body(i), f"queued-{i}")) for i in range(3)]
        kserve_route = asyncio.ensure_future(predictor.predict(orjson.loads(body(3)), headers={}))
        await asyncio.sleep(0)  # each request is parsed and waits for its flush
        predictor.stop()
        return await asyncio.gather(*fast, kserve_route, return_exceptions=True)
    *answers, refused = asyncio.run(unload_while_queued())
    assert [a.status for a in answers] == [503] * 3, [a.body for a in answers]
    assert all(b"'fraud' is not loaded" in a.body for a in answers)
    assert isinstance(refused, ServerNotReady) and "not loaded" in str(refused), repr(refused)


@pytest.mark.integration
def test_a_client_that_leaves_mid_body_is_not_answered_counted_or_logged(predictor):
    app = FastPath(Starlette(), predictor=predictor)
    whole = body(7)
    messages = iter([{"type": "http.request", "body": whole[:20], "more_body": True}, {"type": "http.disconnect"}])
    sent = []

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message)
    scope = {"type": "http", "method": "POST", "path": "/v1/models/fraud:predict", "raw_path": b"",
             "query_string": b"", "headers": [(b"x-request-id", b"left-mid-body")]}

    def answered() -> float:  # v1 scoring answers counted, whatever their status
        return sum(sample.value for metric in REGISTRY.collect() for sample in metric.samples
                   if sample.name == "shipyard_requests_total" and sample.labels.get("protocol") == "v1")
    before = answered()
    asyncio.run(app(scope, receive, send))
    assert sent == [] and answered() == before
    messages = iter([{"type": "http.request", "body": whole, "more_body": False}])  # the same, whole
    asyncio.run(app({**scope, "headers": [(b"x-request-id", b"sent-whole")]}, receive, send))
    assert sent[0]["status"] == 200 and answered() == before + 1
    predictor.scoring.log.flush()
    logged = set(read_prediction_log(predictor.settings.prediction_log_dir)["request_id"])
    assert "sent-whole" in logged and "left-mid-body" not in logged


@pytest.mark.integration
def test_a_request_id_header_that_is_not_ascii_is_a_400_on_both_paths(predictor):
    from kserve.errors import InvalidInput

    garbled = "caf\u00e9".encode().decode("latin-1")  # UTF-8 header bytes, as the server reads them
    refused = asyncio.run(predictor.scoring.respond("v1", body(1), garbled))
    assert refused.status == 400 and b"x-request-id must be ASCII" in refused.body
    with pytest.raises(InvalidInput, match="x-request-id must be ASCII"):
        asyncio.run(predictor.predict(orjson.loads(body(1)), headers={"x-request-id": garbled}))


@pytest.mark.integration
def test_a_scoring_route_with_a_trailing_slash_is_the_route(predictor):
    app = FastPath(Starlette(), predictor=predictor)

    async def post(path: str, content: bytes):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            return await client.post(path, content=content)
    v1 = asyncio.run(post("/v1/models/fraud:predict/", body(2)))
    assert v1.status_code == 200 and v1.headers["x-shipyard-route"] == "fast", v1.text
    v2 = asyncio.run(post("/v2/models/fraud/infer/", orjson.dumps({"inputs": [
        {"name": "customer_id", "shape": [1], "datatype": "INT64", "data": [3]},
        {"name": "amount", "shape": [1], "datatype": "FP64", "data": [10.0]},
        {"name": "merchant_category", "shape": [1], "datatype": "BYTES", "data": ["grocery"]},
        {"name": "hour", "shape": [1], "datatype": "INT64", "data": [4]}]})))
    assert v2.status_code == 200 and v2.json()["outputs"][0]["name"] == "fraud_probability", v2.text
