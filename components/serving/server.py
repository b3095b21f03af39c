"""Start KServe's ModelServer with the Shipyard predictor and the scoring fast path in front.

The fast path is a middleware added to the FastAPI app KServe serves (``kserve.model_server.app``,
the app ``FASTAPI_APP_IMPORT_STRING`` names); ``ModelServer.start`` itself builds the REST and gRPC
servers, so KServe's TLS, access-log, grace-period and gRPC options apply unchanged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shipyard.settings import Settings
from shipyard.usecase import UseCase


@dataclass(frozen=True)
class ServeOptions:
    port: int = 8080
    grpc_port: int = 0  # 0: no gRPC server
    fast_path: bool = True
    drain_seconds: float = 5.0
    grace_seconds: int = 30
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    access_log_format: str | None = None  # KServe's --access_log_format (asgi-logger fields)
    access_log: bool = False  # uvicorn's default access log when no format is given


def serve(settings: Settings, use_case: UseCase, options: ServeOptions) -> None:
    import kserve
    from kserve.model_server import app

    from components.serving.fast_path import FastPath
    from components.serving.predictor import ShipyardPredictor

    # KServe configures only its own loggers: say which model form and store serve, and log tracebacks.
    serving_log = logging.getLogger("components.serving")
    serving_log.setLevel(logging.INFO)
    serving_log.addHandler(logging.StreamHandler())
    predictor = ShipyardPredictor(settings, use_case)
    predictor.load()
    app.add_middleware(FastPath, predictor=predictor, fast=options.fast_path, drain_seconds=options.drain_seconds)
    # Per-request latency logging costs throughput and duplicates the request histograms.
    server = kserve.ModelServer(
        http_port=options.port, grpc_port=options.grpc_port or 8081, enable_grpc=options.grpc_port > 0,
        enable_latency_logging=False, workers=1, grace_period=options.grace_seconds,
        access_log_format=options.access_log_format, ssl_certfile=options.ssl_certfile,
        ssl_keyfile=options.ssl_keyfile)
    if not options.access_log and options.access_log_format is None:
        # Per-request log lines cost throughput and repeat the request metrics: uvicorn's access log and
        # the "kserve.trace" timing line KServe's TimingMiddleware writes for every request.
        logging.getLogger("uvicorn.access").disabled = True
        logging.getLogger("kserve.trace").disabled = True
    try:
        server.start([predictor])
    finally:
        predictor.stop()
