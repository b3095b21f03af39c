"""Start KServe's ModelServer with the Shipyard predictor."""

from __future__ import annotations

from shipyard.settings import Settings
from shipyard.usecase import UseCase


def serve(settings: Settings, use_case: UseCase, port: int) -> None:
    import kserve

    from components.serving.predictor import ShipyardPredictor

    predictor = ShipyardPredictor(settings, use_case)
    predictor.load()
    # Per-request latency logging costs throughput and duplicates our histograms; gRPC is not served.
    server = kserve.ModelServer(http_port=port, enable_grpc=False, enable_latency_logging=False, workers=1)
    try:
        server.start([predictor])
    finally:
        predictor.stop()
