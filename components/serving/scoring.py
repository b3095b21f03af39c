"""The request path shared by both protocols: features, score, prediction log, metrics, response.

``Scoring.respond`` turns a raw body into (HTTP status, JSON body) and never raises for a client's
mistake or a store outage: 400/413 name the problem, 503 says the online store did not answer.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import orjson
from kserve.errors import InvalidInput

from components.serving.metrics import ServingMetrics
from components.serving.model_runtime import OnnxScorer, SklearnScorer
from components.serving.online_features import OnlineFeatures, StoreUnavailable
from components.serving.prediction_log import PredictionLog
from components.serving.requests import MAX_BODY_BYTES, Batch, parse_v1, parse_v2
from shipyard.usecase import UseCase

PARSERS = {"v1": parse_v1, "v2": parse_v2}


class Scoring:
    def __init__(self, use_case: UseCase, version: int, scorer: SklearnScorer | OnnxScorer,
                 features: OnlineFeatures, log: PredictionLog, metrics: ServingMetrics):
        self.use_case, self.version, self.scorer = use_case, version, scorer
        self.features, self.log, self.metrics = features, log, metrics
        self.model_name, self.version_text = use_case.model_name, str(version)
        self.output_name = f"{use_case.model_name}_probability"

    def score(self, batch: Batch, protocol: str, request_id: str) -> list[float]:
        """Probabilities in instance order; every answered instance is in the prediction log first."""
        started = time.perf_counter()
        try:
            rows = self.features.lookup(batch.columns[self.use_case.entity])
        except StoreUnavailable:
            self.metrics.store_errors.inc()
            raise
        self.metrics.lookup.observe(time.perf_counter() - started)
        if any(rows.missing):
            self.metrics.missing.inc(sum(rows.missing))
        if any(rows.stale):
            self.metrics.stale.inc(sum(rows.stale))
        columns = {**batch.columns, **rows.values}
        scores = self.scorer.predict(columns).tolist()
        now = datetime.now(UTC).isoformat()
        names = list(columns)
        self.log.append([
            {**{name: columns[name][i] for name in names}, "score": scores[i], "model_version": self.version,
             "timestamp": now, "request_id": request_id, "features_missing": rows.missing[i],
             "features_stale": rows.stale[i], "protocol": protocol}
            for i in range(batch.size)])
        for value in scores:
            self.metrics.score.observe(value)
        return scores

    def response(self, protocol: str, scores: list[float], request_id: str) -> dict:
        if protocol == "v1":
            return {"model_name": self.model_name, "model_version": self.version_text, "predictions": scores}
        return {"model_name": self.model_name, "model_version": self.version_text, "id": request_id,
                "outputs": [{"name": self.output_name, "shape": [len(scores)], "datatype": "FP64",
                             "data": scores}]}

    def respond(self, protocol: str, body: bytes, request_id: str | None) -> tuple[int, bytes]:
        """HTTP status and JSON body for one request of ``protocol`` ("v1" or "v2")."""
        started = time.perf_counter()
        try:
            if len(body) > MAX_BODY_BYTES:
                return self._error(protocol, 413, f"request body has {len(body)} bytes; at most {MAX_BODY_BYTES}")
            batch = PARSERS[protocol](body, self.use_case)
            request_id = request_id or batch.request_id or uuid.uuid4().hex
            scores = self.score(batch, protocol, request_id)
        except InvalidInput as exc:
            return self._error(protocol, 400, str(exc.reason))
        except StoreUnavailable as exc:
            return self._error(protocol, 503, f"online feature store unavailable: {exc}")
        self.metrics.request(protocol, 200).inc()
        self.metrics.duration[protocol].observe(time.perf_counter() - started)
        return 200, orjson.dumps(self.response(protocol, scores, request_id))

    def _error(self, protocol: str, code: int, message: str) -> tuple[int, bytes]:
        self.metrics.request(protocol, code).inc()
        return code, orjson.dumps({"error": message})
