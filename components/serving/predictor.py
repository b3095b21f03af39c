"""KServe predictor: pinned MLflow model + Feast online features, with a prediction log and metrics."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import kserve
import pandas as pd
from kserve.errors import InvalidInput, ServerNotReady

from components.serving import metrics
from components.serving.online_features import OnlineFeatures
from components.serving.prediction_log import PredictionLog
from components.serving.requests import parse_v1
from shipyard import registry
from shipyard.settings import Settings
from shipyard.usecase import UseCase


class ShipyardPredictor(kserve.Model):
    def __init__(self, settings: Settings, use_case: UseCase):
        super().__init__(use_case.model_name, return_response_headers=True)
        self.settings = settings
        self.use_case = use_case
        self.version: int | None = None

    def load(self) -> bool:
        from threadpoolctl import threadpool_limits

        # One-row predictions: OpenMP thread start-up would cost more than the trees themselves.
        threadpool_limits(limits=1)
        self.version = registry.resolve_version(self.settings, self.use_case.model_name)
        self.model = registry.load_sklearn_model(self.settings, self.use_case.model_name, self.version)
        self.columns = registry.input_columns(self.settings, self.use_case.model_name, self.version)
        self.features = OnlineFeatures(self.settings, self.use_case)
        self.features.lookup([0])  # fail start-up now if the online store does not answer
        self.log = PredictionLog(self.settings.prediction_log_dir)
        self.labels = {"model": self.name, "version": str(self.version)}
        metrics.MODEL_INFO.labels(**self.labels, feature_service=self.use_case.feature_service).set(1)
        self.ready = True
        return self.ready

    def stop(self) -> None:
        if getattr(self, "log", None) is not None:
            self.log.close()

    def _count(self, code: int) -> None:
        metrics.REQUESTS.labels(**self.labels, protocol="v1", code=str(code)).inc()

    def predict(self, payload, headers=None, response_headers=None):
        started = time.perf_counter()
        try:
            request = parse_v1(payload, self.use_case)
        except InvalidInput:
            self._count(400)
            raise
        lookup_started = time.perf_counter()
        try:
            online, missing = self.features.lookup(request[self.use_case.entity].tolist())
        except Exception as exc:
            metrics.ONLINE_STORE_ERRORS.labels(**self.labels, store=self.features.store_type).inc()
            self._count(503)
            raise ServerNotReady(f"online feature store unavailable: {type(exc).__name__}") from None
        metrics.FEATURE_LOOKUP_DURATION.labels(**self.labels, store=self.features.store_type).observe(
            time.perf_counter() - lookup_started)
        if missing.any():
            metrics.MISSING_FEATURES.labels(**self.labels, feature_service=self.use_case.feature_service).inc(
                int(missing.sum()))
        frame = pd.concat([request, online], axis=1)
        scores = self.model.predict_proba(frame[self.columns])[:, 1]

        request_id = (headers or {}).get("x-request-id") or uuid.uuid4().hex
        now = datetime.now(UTC).isoformat()
        records = frame.assign(request_id=request_id, timestamp=now, model_version=self.version,
                               features_missing=missing, score=scores).to_dict("records")
        self.log.append(records)
        for score in scores:
            metrics.PREDICTION_SCORE.labels(**self.labels).observe(score)
        metrics.REQUEST_DURATION.labels(**self.labels, protocol="v1").observe(time.perf_counter() - started)
        self._count(200)
        if response_headers is not None:
            response_headers["model-version"] = str(self.version)
        return {"model_name": self.name, "model_version": str(self.version), "predictions": scores.tolist()}
