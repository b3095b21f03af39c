"""Start KServe's ModelServer with the Shipyard predictor and the scoring fast path in front."""

from __future__ import annotations

import logging

from shipyard.settings import Settings
from shipyard.usecase import UseCase


def serve(settings: Settings, use_case: UseCase, port: int) -> None:
    from components.serving.predictor import ShipyardPredictor
    from components.serving.server_fast import FastModelServer

    # KServe configures only its own loggers: say which model form and store serve, once, at start-up.
    serving_log = logging.getLogger("components.serving")
    serving_log.setLevel(logging.INFO)
    serving_log.addHandler(logging.StreamHandler())
    predictor = ShipyardPredictor(settings, use_case)
    predictor.load()
    # Per-request latency logging costs throughput and duplicates our histograms; gRPC is not served.
    server = FastModelServer(predictor, http_port=port, enable_grpc=False, enable_latency_logging=False,
                             workers=1)
    try:
        server.start([predictor])
    finally:
        predictor.stop()

