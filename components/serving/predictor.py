"""KServe predictor: pinned MLflow model + Feast online features, with a prediction log and metrics.

``load`` resolves ``models:/<name>@champion`` (or SHIPYARD_MODEL_VERSION) to a version once, loads
it with skops (no pickle), picks ONNX Runtime when it reproduces sklearn, and is ready only after
the online store answered a read. ``predict`` is KServe's own data plane (REST v1/v2, the binary
tensor extension, gRPC); the same ``Scoring`` also answers the fast path (fast_path.py). HTTP
answers are counted by the fast-path middleware, which sees every status code; gRPC ones here.

With several workers, KServe's ``ModelServer`` starts each REST worker as a new process (spawn) and
pickles the registered models into it. The predictor's pickled form is its recipe (settings, use case
name, and a ``worker_start`` callable): unpickled in a worker it is a new, unloaded predictor, handed
to ``worker_start`` (server.py), which adds the fast path to that worker's app and has it load the
predictor at the worker's start-up (its own model session, store connection and prediction log
file). Not while unpickling: KServe kills a worker that has not answered its liveness ping within
5 s of being started. KServe has no public per-worker start-up hook; this is the one its
multi-worker server offers, and tests/serving/test_workers.py runs it.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import kserve
import numpy as np
from grpc_interceptor.exceptions import GrpcException, Internal, NotFound, Unavailable
from kserve.errors import InferenceError, InvalidInput, ServerNotReady
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse, RequestedOutput

from components.serving.coalescing import ModelNotLoaded
from components.serving.metrics import ServingMetrics
from components.serving.model_runtime import ModelInputs, fastest_scorer
from components.serving.online_features import OnlineFeatures, StoreUnavailable
from components.serving.prediction_log import PredictionLog
from components.serving.requests import (
    check_request_id_header,
    check_requested_outputs,
    infer_request_payload,
    new_request_id,
    parse_v1,
    parse_v2,
)
from components.serving.scoring import RECORDED_BY_PREDICTOR, Scorable, Scoring, version_not_served
from shipyard import registry
from shipyard.settings import Settings
from shipyard.usecase import UseCase

REFERENCE_ROWS = 2000  # reference rows the ONNX form must reproduce before it serves
V2_DATATYPE = {"int": "INT64", "float": "FP64", "category": "BYTES"}  # metadata: what the model takes
logger = logging.getLogger(__name__)


def tensor_metadata(use_case: UseCase) -> list[dict]:
    """One OIP tensor per request field of the contract; ``-1``: any number of instances."""
    return [{"name": f.name, "datatype": V2_DATATYPE[f.kind], "shape": [-1]} for f in use_case.request_fields]


class ShipyardPredictor(kserve.Model):
    def __init__(self, settings: Settings, use_case: UseCase,
                 worker_start: Callable[[ShipyardPredictor], None] | None = None):
        super().__init__(use_case.model_name, return_response_headers=True)
        self.settings, self.use_case, self.worker_start = settings, use_case, worker_start
        self.version: int | None = None
        self.scoring: Scoring | None = None

    def __getstate__(self) -> dict:
        """What a worker process needs to build its own loaded copy (see the module docstring)."""
        return {"settings": self.settings, "use_case": self.use_case.name, "worker_start": self.worker_start}

    def __setstate__(self, state: dict) -> None:
        from shipyard.usecase import load_use_case

        self.__init__(state["settings"], load_use_case(state["use_case"]), state["worker_start"])
        if self.worker_start is not None:
            self.worker_start(self)

    def load(self) -> bool:
        from threadpoolctl import threadpool_limits

        name = self.use_case.model_name
        self.version = registry.resolve_version(self.settings, name)
        model = registry.load_sklearn_model(self.settings, name, self.version)
        # After the model's import: threadpoolctl only limits native libraries already loaded.
        threadpool_limits(limits=1)
        columns = registry.input_columns(self.settings, name, self.version)
        categorical = [c for c in self.use_case.categorical_columns() if c in columns]
        inputs = ModelInputs(columns, frozenset(categorical))
        with tempfile.TemporaryDirectory() as tmp:
            reference = registry.reference_data(self.settings, name, self.version, Path(tmp))
        scorer = fastest_scorer(model, inputs, reference.head(REFERENCE_ROWS), self.use_case.is_regression)
        # A category is "known" when the version's training set holds it (see README: unknown categories).
        known = {c: frozenset(reference[c].dropna().astype(str)) for c in categorical if c in reference}
        features = OnlineFeatures(self.settings, self.use_case)
        features.lookup([reference[self.use_case.entity].iloc[0]] if len(reference) else [0])  # store answers?
        features.start_clock_refresh()
        metrics = ServingMetrics(name, self.version, self.use_case.feature_service, features.store_type,
                                 tuple(known), self.use_case.is_regression)
        log = PredictionLog(self.settings.prediction_log_dir)
        self.scoring = Scoring(self.use_case, self.version, scorer, features, log, metrics, known)
        logger.info("serving %s version %d with %s, online store %s", name, self.version, scorer.kind,
                    features.store_type)
        self.ready = True
        return self.ready

    def stop(self) -> None:
        """KServe's unload: not ready first (the fast path answers 503), then close the log."""
        self.ready = False
        if self.scoring is not None:
            self.scoring.stop()

    def get_input_types(self) -> list[dict]:
        return tensor_metadata(self.use_case)

    def get_output_types(self) -> list[dict]:
        return [{"name": self.use_case.output_name, "datatype": "FP64", "shape": [-1]}]

    async def predict(self, payload, headers=None, response_headers=None):
        """KServe's route (REST when the fast path passes a request on, and gRPC): the same checks, log and
        metrics as the fast path, scored together with the requests of the same loop turn (coalescing.py)."""
        protocol = "v2" if isinstance(payload, InferRequest) else "v1"
        from_grpc = protocol == "v2" and payload.from_grpc
        started = time.perf_counter()
        code = 500
        request_id = None
        batch = None
        error: str | None = None
        try:
            if not self.ready or self.scoring is None:
                raise ModelNotLoaded(f"model {self.name!r} is not loaded")
            if from_grpc and payload.model_version not in (None, "", self.scoring.version_text):
                code = 404  # HTTP's versioned routes answer 404 (fast_path.py); KServe's gRPC ignores versions
                raise NotFound(version_not_served(self.name, payload.model_version, self.scoring.version_text))
            request_id = check_request_id_header((headers or {}).get("x-request-id"))
            body = infer_request_payload(payload) if protocol == "v2" else payload
            batch = (parse_v2 if protocol == "v2" else parse_v1)(body, self.use_case)
            if protocol == "v2":
                check_requested_outputs(payload, self.use_case)
            request_id = request_id or batch.request_id or new_request_id()
            scorable = Scorable("grpc" if from_grpc else protocol, batch, request_id)
            scores = await self.scoring.coalescer.score(scorable)
            code = 200
        except InvalidInput as exc:
            code, error = 400, str(exc.reason)
            raise
        except (StoreUnavailable, ModelNotLoaded) as exc:  # the store did not answer; the model is not loaded
            code = 503
            error = f"online feature store unavailable: {exc}" if isinstance(exc, StoreUnavailable) else str(exc)
            if from_grpc:  # KServe's interceptor reads a ``reason`` ServerNotReady lacks: UNKNOWN, not UNAVAILABLE
                raise Unavailable(error) from None
            raise ServerNotReady(error) from None
        except GrpcException as exc:
            error = exc.details
            raise
        except Exception:
            own_id = getattr(payload, "id", None)
            request_id = request_id or (own_id if isinstance(own_id, str) and own_id else new_request_id())
            where = "grpc" if from_grpc else protocol
            logger.exception("internal error in %s scoring (request id %s)", where, request_id)
            error = (f"internal error in {where} scoring; the server log has the details under request id "
                     f"{request_id}")
            if from_grpc:  # KServe's gRPC interceptor maps InferenceError to INVALID_ARGUMENT, a client's fault
                raise Internal(error) from None
            raise InferenceError(error) from None
        finally:
            # REST answers are counted and their failures logged by the middleware (fast_path.py), except a
            # failure after the inputs parsed: recorded here with them (one record per instance).
            if not from_grpc and code != 200 and batch is not None and self.scoring is not None and (
                    recorded := RECORDED_BY_PREDICTOR.get()) is not None:
                request_id = request_id or batch.request_id  # the header's, else the v2 body's "id"
                self.scoring.failed(protocol, request_id, code, error, batch)
                recorded.append(request_id)
            if from_grpc and self.scoring is not None:
                self.scoring.metrics.request("grpc", code).inc()
                self.scoring.metrics.duration["grpc"].observe(time.perf_counter() - started)
                if code != 200:  # the id the client sent: header, else the request's own id
                    own_id = getattr(payload, "id", None)
                    request_id = request_id or (own_id if isinstance(own_id, str) else None)
                    self.scoring.failed("grpc", request_id, code, error, batch)
        if response_headers is not None:
            response_headers["model-version"] = self.scoring.version_text
        if protocol == "v1":
            return self.scoring.response(protocol, scores, request_id)
        return self.infer_response(payload, scores, scorable.response_id)

    def infer_response(self, request: InferRequest, scores: list[float], response_id: str) -> InferResponse:
        """The v2 answer, its "id" the request's own when it has one (the spec: returned as given)."""
        output = InferOutput(name=self.scoring.output_name, shape=[len(scores)], datatype="FP64")
        output.set_data_from_numpy(np.asarray(scores, dtype=np.float64), binary_data=request.use_binary_outputs)
        # The binary extension: "binary_data_output" is the default of every output that does not set its
        # own "binary_data". KServe applies it only when no output is named (as the fast path does).
        requested = [RequestedOutput(o.name, {**(o.parameters or {}), "binary_data": request.use_binary_outputs})
                     if o.binary_data is None else o for o in request.request_outputs or []]
        return InferResponse(response_id=response_id, model_name=self.name, model_version=self.scoring.version_text,
                             infer_outputs=[output], from_grpc=request.from_grpc,
                             use_binary_outputs=request.use_binary_outputs, requested_outputs=requested or None)
