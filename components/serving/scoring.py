"""The request path shared by both protocols: features, score, prediction log, metrics, response.

``Scoring.respond`` turns a raw body into an ``Answer`` (HTTP status, JSON or binary body) and never
raises: 400/413 name the problem, 503 says the online store did not answer, and anything unexpected
is a 500 whose JSON carries the request id, with the traceback in the server log. It returns None
for a request it leaves to KServe's own data plane (an output selection it does not implement).
Requests that arrive together are scored in one feature lookup and one model call (coalescing.py).

Every answered instance is a record of the prediction log with status 200; every failed request is
a record too (``Scoring.failed``): its HTTP status and error, its inputs when they parsed, and no
score or features, so consumers of predictions keep only ``status == 200``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
from kserve.errors import InvalidInput

from components.serving.binary_tensors import check_binary_request
from components.serving.coalescing import Coalescer, ModelNotLoaded
from components.serving.metrics import ServingMetrics
from components.serving.model_runtime import OnnxScorer, SklearnScorer
from components.serving.online_features import OnlineFeatures, StoreUnavailable
from components.serving.prediction_log import PredictionLog
from components.serving.requests import (
    MAX_BODY_BYTES,
    Batch,
    check_request_id,
    check_request_id_header,
    decode_body,
    new_request_id,
    parse_v1,
    parse_v2,
)
from shipyard.usecase import UseCase

JSON = b"application/json"
logger = logging.getLogger(__name__)

# A request on KServe's REST route: the middleware records its failure from the answer (fast_path.py), unless
# the predictor recorded it already, with the inputs it parsed, and said so here (a per-request list).
RECORDED_BY_PREDICTOR: ContextVar[list | None] = ContextVar("recorded_by_predictor", default=None)


@dataclass(frozen=True)
class Scorable:
    """A parsed request, ready to score: its protocol, instances, request id and output form."""

    protocol: str
    batch: Batch
    request_id: str  # the prediction log's: the x-request-id header's, else the body's "id", else new
    binary: bool = False

    @property
    def response_id(self) -> str:
        """A v2 answer's "id": the request's own "id" when it has one (the spec: returned as given)."""
        return self.batch.request_id or self.request_id


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: bytes = JSON
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


def error_answer(status: int, message: str, request_id: str | None = None) -> Answer:
    payload: dict[str, Any] = {"error": message}
    if request_id is not None:
        payload["request_id"] = request_id
    return Answer(status, orjson.dumps(payload))


def version_not_served(model: str, asked: str, served: str) -> str:
    """The 404 (HTTP) / NOT_FOUND (gRPC) message for a request naming a version this server does not serve."""
    return f"model {model!r} version {asked} is not served here; it serves version {served}"


def internal_error(request_id: str, where: str) -> Answer:
    """The 500 for an exception nobody expected: traceback to the server log, request id to the client."""
    logger.exception("internal error in %s (request id %s)", where, request_id)
    return error_answer(500, f"internal error in {where}; the server log has the details under this request id",
                        request_id)


def plain_parameters(item: dict, flag: str) -> bool:
    """Whether ``item``'s "parameters" is absent or an object of scalar values (the spec's
    ``$parameters``) whose ``flag``, if set, is a boolean."""
    parameters = item.get("parameters")
    if parameters is None:
        return True
    return (isinstance(parameters, dict) and isinstance(parameters.get(flag, False), bool)
            and all(isinstance(v, (str, int, float)) for v in parameters.values()))


def binary_output_requested(payload: dict, output_name: str) -> bool | None:
    """Whether a v2 request asks for binary output data; None when it is left to KServe's route: an
    output selection the fast path does not implement (unknown names, several outputs, classification), parameters
    that are not an object of scalars or a binary flag that is not a boolean, FP16 data in JSON (each
    refused there, so both paths answer alike)."""
    inputs = payload.get("inputs") or []
    if not plain_parameters(payload, "binary_data_output") or any(
            not plain_parameters(tensor, "binary_data") or tensor.get("datatype") == "FP16" for tensor in inputs):
        return None
    binary = (payload.get("parameters") or {}).get("binary_data_output", False)
    outputs = payload.get("outputs")
    if outputs is None:
        return binary
    if (not isinstance(outputs, list) or len(outputs) != 1 or not isinstance(outputs[0], dict)
            or outputs[0].get("name") != output_name or not plain_parameters(outputs[0], "binary_data")
            or "classification" in (outputs[0].get("parameters") or {})):
        return None
    return (outputs[0].get("parameters") or {}).get("binary_data", binary)


class Scoring:
    def __init__(self, use_case: UseCase, version: int, scorer: SklearnScorer | OnnxScorer,
                 features: OnlineFeatures, log: PredictionLog, metrics: ServingMetrics,
                 known_categories: dict[str, frozenset[str]] | None = None):
        self.use_case, self.version, self.scorer = use_case, version, scorer
        self.features, self.log, self.metrics = features, log, metrics
        self.known_categories = known_categories or {}
        self.model_name, self.version_text = use_case.model_name, str(version)
        self.output_name = use_case.output_name  # the contract's: a probability or the predicted label
        self.coalescer: Coalescer[Scorable] = Coalescer(self.score_many)
        self.stopped = False

    def stop(self) -> None:
        """The model's unload: requests still queued get a 503 (``ModelNotLoaded``), then the store connection
        and the prediction log close (writing what is buffered)."""
        self.stopped = True
        self.features.stop()
        self.log.close()

    def unknown_categories(self, columns: dict[str, list], size: int) -> list[bool]:
        """Per instance: does any category field hold a value the model never saw in training?"""
        flags = [False] * size
        for name, known in self.known_categories.items():
            for i, value in enumerate(columns[name]):
                if value not in known:
                    flags[i] = True
                    self.metrics.unknown_category[name].inc()
        return flags

    def score(self, batch: Batch, protocol: str, request_id: str) -> list[float]:
        """Predictions in instance order (the positive class's probability, or a regression's value);
        every answered instance is in the prediction log first, its prediction in ``score``."""
        return self.score_many([Scorable(protocol, batch, request_id)])[0]

    def score_many(self, requests: Sequence[Scorable]) -> list[list[float]]:
        """``score`` for several requests at once: one feature lookup and one model call for all their
        instances (coalescing.py), each instance logged under its own request's id and protocol."""
        if self.stopped:  # unloaded while these requests waited for their flush
            raise ModelNotLoaded(f"model {self.model_name!r} is not loaded")
        started = time.perf_counter()
        if len(requests) == 1:
            given = requests[0].batch.columns
        else:
            given = {name: [value for r in requests for value in r.batch.columns[name]]
                     for name in requests[0].batch.columns}
        size = sum(r.batch.size for r in requests)
        try:
            rows = self.features.lookup(given[self.use_case.entity])
        except StoreUnavailable:
            self.metrics.store_errors.inc()
            raise
        self.metrics.lookup.observe(time.perf_counter() - started)
        if any(rows.missing):
            self.metrics.missing.inc(sum(rows.missing))
        if any(rows.stale):
            self.metrics.stale.inc(sum(rows.stale))
        unknown = self.unknown_categories(given, size)
        columns = {**given, **rows.values}
        scores = self.scorer.predict(columns).tolist()
        def each_instance(value_of) -> list:  # one value per instance, from its request
            return [value for r in requests for value in [value_of(r)] * r.batch.size]
        self.log.append_columns({
            **columns, "score": scores, "status": [200] * size, "model_version": [self.version] * size,
            "timestamp": [datetime.now(UTC).isoformat()] * size,
            "request_id": each_instance(lambda r: r.request_id), "features_missing": rows.missing,
            "features_stale": rows.stale, "unknown_category": unknown,
            "protocol": each_instance(lambda r: r.protocol)}, size)
        for value in scores:
            self.metrics.score.observe(value)
        per_request, start = [], 0
        for request in requests:
            per_request.append(scores[start:start + request.batch.size])
            start += request.batch.size
        return per_request

    def response(self, protocol: str, scores: list[float], request_id: str) -> dict:
        if protocol == "v1":
            return {"model_name": self.model_name, "model_version": self.version_text, "predictions": scores}
        return {"model_name": self.model_name, "model_version": self.version_text, "id": request_id,
                "outputs": [{"name": self.output_name, "shape": [len(scores)], "datatype": "FP64",
                             "data": scores}]}

    def binary_response(self, scores: list[float], request_id: str) -> Answer:
        """The binary tensor data extension: a JSON header, then the FP64 values little-endian."""
        data = np.asarray(scores, dtype="<f8").tobytes()
        header = orjson.dumps({
            "model_name": self.model_name, "model_version": self.version_text, "id": request_id,
            "outputs": [{"name": self.output_name, "shape": [len(scores)], "datatype": "FP64",
                         "parameters": {"binary_data_size": len(data)}}]})
        return Answer(200, header + data, b"application/octet-stream",
                      [(b"inference-header-content-length", str(len(header)).encode())])

    def check(self, protocol: str, body: bytes, request_id: str | None) -> Answer | None:
        """The 400 a JSON request gets before KServe's route sees it (the same checks as ``respond``),
        recorded in the prediction log like ``respond``'s."""
        try:
            check_request_id_header(request_id)
            (parse_v2 if protocol == "v2" else parse_v1)(decode_body(body), self.use_case)
        except InvalidInput as exc:
            return self.failed_answer(protocol, request_id, error_answer(400, str(exc.reason)), body)
        except Exception:
            request_id = request_id or new_request_id()
            return self.failed_answer(protocol, request_id, internal_error(request_id, f"{protocol} validation"))
        return None

    def check_binary(self, body: bytes, json_length: str, request_id: str | None) -> Answer | None:
        """The 400 a request in the binary tensor data extension gets when its framing is broken
        (binary_tensors.py), before KServe's decoder would fail on it with a 500; recorded like ``check``'s."""
        try:
            check_request_id_header(request_id)
            check_binary_request(body, json_length)
        except InvalidInput as exc:
            answer = error_answer(400, str(exc.reason))
            return self.failed_answer("v2", request_id, answer, body, json_length=json_length)
        return None

    def failed(self, protocol: str, request_id: str | None, status: int, error: str | None,
               batch: Batch | None = None) -> None:
        """Record a failed request in the prediction log: its status and error, its inputs (one record
        per instance) when they parsed, no score and no features. Never raises: the answer to the
        client must not depend on it (a log closed at shutdown, or one that refuses records)."""
        base = {"request_id": request_id or new_request_id(), "timestamp": datetime.now(UTC).isoformat(),
                "status": status, "error": error, "model_version": self.version, "protocol": protocol,
                "score": None}
        records = ([{**{name: batch.columns[name][i] for name in batch.columns}, **base} for i in range(batch.size)]
                   if batch is not None and batch.size else [base])
        try:
            if self.log.closed:  # unloaded: the refusals of the requests still arriving have no log to go to
                return
            self.log.append(records)
        except Exception as exc:
            logger.warning("failed request %s (status %d) not written to the prediction log: %s",
                           base["request_id"], status, exc)

    def failed_answer(self, protocol: str, request_id: str | None, answer: Answer, body: bytes = b"",
                      batch: Batch | None = None, json_length: str | None = None) -> Answer:
        """``answer`` (an error) after recording it with ``failed``; the request id falls back to a v2
        body's own "id" (in its JSON part, for the binary extension)."""
        request_id = request_id or (request_id_in(body, json_length) if protocol == "v2" else None)
        self.failed(protocol, request_id, answer.status, error_of(answer.body), batch)
        return answer

    def parse(self, protocol: str, body: bytes, request_id: str | None) -> Scorable | Answer | None:
        """A JSON request of ``protocol`` ("v1" or "v2") ready to score, or the error ``Answer`` it gets
        (recorded in the prediction log, see ``failed``), or None: leave it to KServe (an output
        selection the fast path does not implement)."""
        request_id = request_id or None
        batch: Batch | None = None
        try:
            if len(body) > MAX_BODY_BYTES:
                answer = error_answer(413, f"request body has {len(body)} bytes; at most {MAX_BODY_BYTES}")
                return self.failed_answer(protocol, request_id, answer)
            check_request_id_header(request_id)
            payload = decode_body(body)
            batch = (parse_v2 if protocol == "v2" else parse_v1)(payload, self.use_case)
            binary = binary_output_requested(payload, self.output_name) if protocol == "v2" else False
            if binary is None:
                return None  # checked inputs, outputs chosen in a way KServe's route implements
            return Scorable(protocol, batch, request_id or batch.request_id or new_request_id(), binary)
        except InvalidInput as exc:
            answer = error_answer(400, str(exc.reason))
        except Exception:
            request_id = request_id or new_request_id()
            answer = internal_error(request_id, f"{protocol} validation")
        return self.failed_answer(protocol, request_id, answer, body, batch)

    def answer(self, request: Scorable, scores: list[float] | None = None,
               error: Exception | None = None) -> Answer:
        """The answer to a parsed request: its predictions, or the error its scoring raised (503 for a
        store that did not answer, else a 500 with the request id), recorded like ``parse``'s errors."""
        if error is None:
            try:
                if request.binary:
                    return self.binary_response(scores, request.response_id)
                return Answer(200, orjson.dumps(self.response(request.protocol, scores, request.response_id)))
            except Exception as exc:
                error = exc
        if isinstance(error, StoreUnavailable):
            answer = error_answer(503, f"online feature store unavailable: {error}")
        elif isinstance(error, ModelNotLoaded):
            answer = error_answer(503, str(error))
        else:
            logger.error("internal error in %s scoring (request id %s)", request.protocol, request.request_id,
                         exc_info=error)
            answer = error_answer(500, f"internal error in {request.protocol} scoring; the server log has the "
                                       "details under this request id", request.request_id)
        return self.failed_answer(request.protocol, request.request_id, answer, batch=request.batch)

    async def respond(self, protocol: str, body: bytes, request_id: str | None) -> Answer | None:
        """The answer to one JSON request of ``protocol`` ("v1" or "v2"), scored together with the other
        requests of this event-loop turn (coalescing.py); None: leave it to KServe (``parse``)."""
        parsed = self.parse(protocol, body, request_id)
        if not isinstance(parsed, Scorable):
            return parsed
        try:
            scores = await self.coalescer.score(parsed)
        except Exception as exc:
            return self.answer(parsed, error=exc)
        return self.answer(parsed, scores)


def error_of(body: bytes) -> str | None:
    """The "error" text of a JSON error answer (else the body's first characters, or None)."""
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body[:500].decode("utf-8", "replace").strip()
        return text or None
    if isinstance(decoded, dict) and isinstance(decoded.get("error"), str):
        return decoded["error"]
    return str(decoded)[:500]


def request_id_in(body: bytes, json_length: str | None = None) -> str | None:
    """A v2 request body's own "id" when the body (or, with the binary extension's header value
    ``json_length``, its JSON part) is a JSON object with a valid one, else None."""
    if json_length is not None:
        body = body[:int(json_length)] if json_length.strip().isdigit() else b""
    try:
        payload = orjson.loads(body) if body and body.lstrip()[:1] == b"{" else None
        return check_request_id(payload.get("id"), "id") if isinstance(payload, dict) else None
    except (orjson.JSONDecodeError, InvalidInput):
        return None
