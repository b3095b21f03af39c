"""Start KServe's ModelServer with the Shipyard predictor and the scoring fast path in front.

The fast path is a middleware added to the FastAPI app KServe serves (``kserve.model_server.app``,
the app ``FASTAPI_APP_IMPORT_STRING`` names); ``ModelServer.start`` itself builds the REST and gRPC
servers, so KServe's TLS, access-log, grace-period, workers and gRPC options apply unchanged.

Workers (``workers > 1``, KServe's own option): KServe runs the REST server in that many spawned
processes, each importing its own ``kserve.model_server.app`` and unpickling the registered models;
the predictor unpickles to an unloaded copy that adds the fast path to that worker's app, which loads
it at the worker's lifespan start-up and stops it (writing its prediction log) at lifespan shutdown
(``start_worker``, predictor.py). Each worker writes its own prediction log files (the file name
carries the process id). The gRPC server, when on, stays in the parent process with the parent's
predictor.

Metrics with workers: prometheus_client's multiprocess mode. ``PROMETHEUS_MULTIPROC_DIR`` is set to a
fresh folder before any worker starts, every process records its metrics in files there, and the
fast path answers ``GET /metrics`` with the sum over processes (KServe's own /metrics handler would
show only the worker that happens to take the scrape). What multiprocess mode cannot give: the
``process_*``/``python_*`` collectors (per process by nature) are not exported, and a gauge reports
the maximum over processes (``shipyard_model_info`` is 1 in all of them).
"""

from __future__ import annotations

import functools
import gc
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass

from shipyard.settings import Settings
from shipyard.usecase import UseCase

MULTIPROC_ENVS = ("PROMETHEUS_MULTIPROC_DIR", "PROMETHEUS_MULTIPROCESS_DIR")
_metrics_dir: str | None = None


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
    workers: int = 1  # KServe's REST worker processes


def multiprocess_metrics_dir(workers: int) -> str | None:
    """With several workers, this process's fresh folder for prometheus_client's multiprocess mode, set in
    the environment the workers inherit (the same folder on every call); None with one worker.

    Always a new folder: an inherited ``PROMETHEUS_MULTIPROC_DIR`` may hold another server's files
    (Feast sets one, its own, in any process that imports ``feast.metrics``). Call it before
    prometheus_client is imported (``shipyard serve`` does it first thing), so that this process's own
    metrics (gRPC answers) are in the sum too."""
    global _metrics_dir
    if workers <= 1:  # one process: plain in-memory metrics, not another server's inherited folder
        for name in MULTIPROC_ENVS:
            os.environ.pop(name, None)
        return None
    if _metrics_dir is None:
        _metrics_dir = tempfile.mkdtemp(prefix="shipyard-metrics-")
    for name in MULTIPROC_ENVS:  # Feast reads the older name too; both must name one folder
        os.environ[name] = _metrics_dir
    return _metrics_dir


def add_fast_path(predictor, options: ServeOptions, **hooks) -> None:
    """The fast-path middleware on KServe's app in this process (before the server builds its stack).

    It moves itself ahead of the middlewares KServe adds later (fast_path.py, ``_arrange``) unless an
    access-log format is set: KServe's access-log middleware must then see every request. It drops KServe's
    timing middleware when its log line is off (``quiet_request_logs``)."""
    from kserve.model_server import app

    from components.serving.fast_path import Drain, FastPath

    hooks.setdefault("drain", Drain(options.drain_seconds))
    app.add_middleware(FastPath, predictor=predictor, fast=options.fast_path,
                       first=options.access_log_format is None, untimed=quiet(options), **hooks)


def quiet(options: ServeOptions) -> bool:
    """No per-request log lines: neither uvicorn's access log nor an access-log format."""
    return not options.access_log and options.access_log_format is None


def quiet_request_logs(options: ServeOptions) -> None:
    if quiet(options):
        # Per-request log lines cost throughput and repeat the request metrics: uvicorn's access log and
        # the "kserve.trace" timing line KServe's TimingMiddleware writes for every request.
        logging.getLogger("uvicorn.access").disabled = True
        logging.getLogger("kserve.trace").disabled = True


class AnsweredRefusals(logging.Filter):
    """Drops KServe's traceback for a refusal it answered: a 503 (``ServerNotReady``, ``ModelNotReady``) or a
    400 (``InvalidInput``). KServe logs "Exception:" with the traceback for each one; these are counted in
    ``shipyard_requests_total`` and recorded in the prediction log, and a store outage at 1,000 req/s wrote
    1,000 tracebacks a second. Other exceptions keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        from kserve.errors import InvalidInput, ModelNotReady, ServerNotReady

        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, (ServerNotReady, ModelNotReady, InvalidInput))


def quiet_answered_refusals() -> None:
    kserve_log = logging.getLogger("kserve")  # KServe's own logger (kserve.logging.KSERVE_LOGGER_NAME)
    if not any(isinstance(f, AnsweredRefusals) for f in kserve_log.filters):
        kserve_log.addFilter(AnsweredRefusals())


def start_worker(options: ServeOptions, predictor) -> None:
    """Run in each REST worker process as its (unloaded) predictor is unpickled (predictor.py): the fast
    path on this worker's app, with the worker's start-up and shutdown as its lifespan hooks."""
    add_fast_path(predictor, options, one_of_workers=True,
                  on_startup=functools.partial(worker_startup, options, predictor), on_shutdown=predictor.stop)


def worker_startup(options: ServeOptions, predictor) -> None:
    """A worker's lifespan start-up, before it accepts requests: after KServe configured the worker's
    logging (which re-enables the request loggers), so the logging choices are made here; then the
    load. A worker whose load fails exits, and KServe starts another.

    The matching shutdown stops the predictor (writing its buffered prediction log) once uvicorn has
    answered the requests in flight: uvicorn then re-raises the SIGTERM it caught, and a worker, having
    no handler of its own, ends without running ``atexit``."""
    log_to_stderr()
    quiet_request_logs(options)
    quiet_answered_refusals()
    predictor.load()
    freeze_loaded_objects()


def freeze_loaded_objects() -> None:
    """Put everything alive after the load (libraries, model, feature definitions: about 440,000
    objects) out of the garbage collector's reach. Every full collection walked them all: pauses of
    about 250 ms, about every 30 s at 3,000 req/s, in which no request was answered. After the freeze
    the same collections took 4-11 ms (GC callbacks in the bench's server; see the README's serving benchmark)."""
    gc.collect()
    gc.freeze()


def log_to_stderr() -> None:
    # KServe configures only its own loggers: say which model form and store serve, and log tracebacks.
    serving_log = logging.getLogger("components.serving")
    serving_log.setLevel(logging.INFO)
    if not serving_log.handlers:
        serving_log.addHandler(logging.StreamHandler())


def serve(settings: Settings, use_case: UseCase, options: ServeOptions) -> None:
    if options.workers < 1:
        raise ValueError("workers must be at least 1")
    metrics_dir = multiprocess_metrics_dir(options.workers)
    import kserve

    from components.serving.fast_path import Drain
    from components.serving.predictor import ShipyardPredictor
    from components.serving.repository import ShipyardDataPlane, ShipyardRepositoryExtension, SingleModelRepository

    log_to_stderr()
    worker_start = functools.partial(start_worker, options) if options.workers > 1 else None
    predictor = ShipyardPredictor(settings, use_case, worker_start)
    predictor.load()
    drain = Drain(options.drain_seconds)  # with workers, each has its own; this one then never drains
    if options.workers == 1:
        add_fast_path(predictor, options, drain=drain)
        freeze_loaded_objects()  # workers freeze their own, after their load
    # Per-request latency logging costs throughput and duplicates the request histograms.
    server = kserve.ModelServer(
        http_port=options.port, grpc_port=options.grpc_port or 8081, enable_grpc=options.grpc_port > 0,
        enable_latency_logging=False, workers=options.workers, grace_period=options.grace_seconds,
        access_log_format=options.access_log_format, ssl_certfile=options.ssl_certfile,
        ssl_keyfile=options.ssl_keyfile, registered_models=(repository := SingleModelRepository(predictor)))
    # Both read by ``start`` to build its servers (repository.py says why they are Shipyard's).
    server.dataplane = ShipyardDataPlane(repository, drain)
    server.model_repository_extension = ShipyardRepositoryExtension(repository, changes=options.workers == 1)
    quiet_request_logs(options)
    quiet_answered_refusals()
    try:
        server.start([predictor])
    finally:
        predictor.stop()
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
