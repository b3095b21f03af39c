"""KServe predictor: pinned MLflow model + Feast online features, with a prediction log and metrics.

``load`` resolves ``models:/<name>@champion`` (or SHIPYARD_MODEL_VERSION) to a version once, loads
it with skops (no pickle), picks ONNX Runtime when it reproduces sklearn, and is ready only after
the online store answered a read. ``predict`` is KServe's generic route; the same ``Scoring``
also answers the fast path (components/serving/fast_path.py).
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from pathlib import Path

import kserve
from kserve.errors import InvalidInput, ServerNotReady
from kserve.protocol.infer_type import InferRequest, InferResponse

from components.serving.metrics import ServingMetrics
from components.serving.model_runtime import ModelInputs, fastest_scorer
from components.serving.online_features import OnlineFeatures, StoreUnavailable
from components.serving.prediction_log import PredictionLog
from components.serving.requests import infer_request_payload, parse_v1, parse_v2
from components.serving.scoring import Scoring
from shipyard import registry
from shipyard.settings import Settings
from shipyard.usecase import UseCase

REFERENCE_ROWS = 2000  # reference rows the ONNX form must reproduce before it serves
logger = logging.getLogger(__name__)


class ShipyardPredictor(kserve.Model):
    def __init__(self, settings: Settings, use_case: UseCase):
        super().__init__(use_case.model_name, return_response_headers=True)
        self.settings, self.use_case = settings, use_case
        self.version: int | None = None
        self.scoring: Scoring | None = None

    def load(self) -> bool:
        from threadpoolctl import threadpool_limits

        name = self.use_case.model_name
        self.version = registry.resolve_version(self.settings, name)
        model = registry.load_sklearn_model(self.settings, name, self.version)
        # After the model's import: threadpoolctl only limits native libraries already loaded.
        threadpool_limits(limits=1)
        columns = registry.input_columns(self.settings, name, self.version)
        inputs = ModelInputs(columns, frozenset(self.use_case.categorical_columns()))
        with tempfile.TemporaryDirectory() as tmp:
            reference = registry.reference_data(self.settings, name, self.version, Path(tmp))
        scorer = fastest_scorer(model, inputs, reference.head(REFERENCE_ROWS))
        features = OnlineFeatures(self.settings, self.use_case)
        features.lookup([reference[self.use_case.entity].iloc[0]] if len(reference) else [0])  # store answers?
        features.start_clock_refresh()
        metrics = ServingMetrics(name, self.version, self.use_case.feature_service, features.store_type)
        log = PredictionLog(self.settings.prediction_log_dir)
        self.scoring = Scoring(self.use_case, self.version, scorer, features, log, metrics)
        logger.info("serving %s version %d with %s, online store %s", name, self.version, scorer.kind,
                    features.store_type)
        self.ready = True
        return self.ready

    def stop(self) -> None:
        if self.scoring is not None:
            self.scoring.features.stop()
            self.scoring.log.close()

    def predict(self, payload, headers=None, response_headers=None):
        protocol = "v2" if isinstance(payload, InferRequest) else "v1"
        body = infer_request_payload(payload) if protocol == "v2" else payload
        request_id = (headers or {}).get("x-request-id")
        try:
            batch = (parse_v2 if protocol == "v2" else parse_v1)(body, self.use_case)
        except InvalidInput:
            self.scoring.metrics.request(protocol, 400).inc()
            raise
        request_id = request_id or batch.request_id or uuid.uuid4().hex
        try:
            scores = self.scoring.score(batch, protocol, request_id)
        except StoreUnavailable as exc:
            self.scoring.metrics.request(protocol, 503).inc()
            raise ServerNotReady(f"online feature store unavailable: {exc}") from None
        self.scoring.metrics.request(protocol, 200).inc()
        if response_headers is not None:
            response_headers["model-version"] = self.scoring.version_text
        response = self.scoring.response(protocol, scores, request_id)
        if protocol == "v2":
            return InferResponse.from_rest(response)
        return response
