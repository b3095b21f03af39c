"""Real predictor processes for the serving tests: SQLite and Redis platforms, an MLflow server."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from shipyard.settings import Settings
from shipyard_cli.processes import ServerProcess, free_port, http_ok, start_mlflow_server, start_predictor
from tests.pipelines.conftest import postgres_database  # noqa: F401  (a fixture: one database per session)
from tests.serving.platforms import (
    Platform,
    copy_platform,
    delete_project_keys,
    new_project,
    require_redis,
    write_stale_row,
)

SHARED_REDIS = "redis://127.0.0.1:6379/0"


@dataclass
class RunningPredictor:
    url: str
    prediction_log_dir: Path
    process: ServerProcess
    platform: Platform


def grpc_session(address: str, rows: list[dict], version: str = "", output: str = "") -> dict:
    """Readiness, metadata and an infer built from the metadata, by tritonclient's gRPC client in a process
    of its own (tests/serving/grpc_client.py says why)."""
    done = subprocess.run([sys.executable, "-m", "tests.serving.grpc_client", address, json.dumps(rows), version,
                           output], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def grpc_repository_change(address: str, change: str) -> str:
    """A repository "load" or "unload" of the fraud model over gRPC, in KServe's message format: "done", or
    the status code that refused it. Not tritonclient's: Triton's RepositoryModelLoadRequest numbers its
    fields differently (repository_name = 1, model_name = 2), so KServe reads an empty model name."""
    import grpc
    from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
    from kserve.protocol.grpc.grpc_predict_v2_pb2_grpc import GRPCInferenceServiceStub

    with grpc.insecure_channel(address) as channel:
        stub = GRPCInferenceServiceStub(channel)
        call, request = ((stub.RepositoryModelLoad, pb.RepositoryModelLoadRequest) if change == "load"
                         else (stub.RepositoryModelUnload, pb.RepositoryModelUnloadRequest))
        try:
            call(request(model_name="fraud"), timeout=120)
        except grpc.RpcError as exc:
            return exc.code().name
    return "done"


def run_predictor(platform: Platform, log_dir: Path) -> tuple[ServerProcess, str]:
    port = free_port()
    return start_predictor(port, log_dir / f"serve-{port}.log", platform.env), f"http://127.0.0.1:{port}"


def start_serve(platform: Platform, log_path: Path, *args: str, port: int | None = None,
                ready_url: str | None = None) -> tuple[ServerProcess, str]:
    """``shipyard serve --port P ARGS...`` over ``platform``, started and ready (or stopped)."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    server = ServerProcess(["serve", "--port", str(port), *args], log_path, platform.env)
    # Start-up (imports, model download, ONNX check on 2,000 rows) is a start-up bound, not a timing
    # assertion: on a 2-core machine shared with other test runs it was seen to take over 120 s.
    return server.start_until(http_ok(ready_url or f"{url}/v2/models/fraud/ready"), timeout=300), url


@contextmanager
def serving(platform: Platform, log_dir: Path) -> Iterator[RunningPredictor]:
    """A predictor over ``platform`` (with one stale customer row written first), stopped afterwards."""
    write_stale_row(platform.settings)
    server, url = run_predictor(platform, log_dir)
    try:
        yield RunningPredictor(url, platform.settings.prediction_log_dir, server, platform)
    finally:
        server.stop()


def loaded_predictor(trained_home: Settings, **env: str):
    """The fraud predictor over the session's trained platform, loaded in this process with ``env`` added
    to the environment for its load only."""
    import os

    from components.serving.predictor import ShipyardPredictor
    from usecases.fraud import USE_CASE

    saved = dict(os.environ)
    os.environ.update(SHIPYARD_HOME=str(trained_home.home), MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false", **env)
    try:
        predictor = ShipyardPredictor(Settings.from_env(), USE_CASE)
        predictor.load()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return predictor


@pytest.fixture(scope="session")
def mlflow_url(trained_home: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's registry over HTTP: the prod profile never reads MLflow's database directly."""
    port = free_port()
    log = tmp_path_factory.mktemp("mlflow-server") / "mlflow.log"
    server = start_mlflow_server(port, trained_home.mlflow_tracking_uri, log)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@dataclass(frozen=True)
class ProdServices:
    """What the prod profile shares: the MLflow server and Feast's SQL registry (PostgreSQL)."""

    mlflow_url: str
    registry_uri: str


@pytest.fixture(scope="session")
def prod_services(mlflow_url: str, postgres_database: str) -> ProdServices:  # noqa: F811
    return ProdServices(mlflow_url, postgres_database)


@contextmanager
def serving_on_path(trained_home: Settings, tmp_path_factory, name: str, path: str) -> Iterator[str]:
    """A predictor whose scoring routes take ``path``: "fast" (the middleware) or "kserve" (KServe's own)."""
    home = tmp_path_factory.mktemp(f"{name}-{path}") / "home"
    args = [] if path == "fast" else ["--no-fast-path"]
    process, url = start_serve(copy_platform(trained_home, home), home / "serve.log", *args)
    try:
        yield url
    finally:
        process.stop()


def redis_platform_for(trained_home: Settings, services: ProdServices, home: Path, redis_url: str,
                       project: str) -> Platform:
    platform = copy_platform(trained_home, home, redis_url, project, registry_uri=services.registry_uri)
    platform.env["SHIPYARD_MLFLOW_TRACKING_URI"] = services.mlflow_url
    return platform


@pytest.fixture(scope="module")
def sqlite_predictor(trained_home: Settings, tmp_path_factory) -> Iterator[RunningPredictor]:
    home = tmp_path_factory.mktemp("sqlite-platform") / "home"
    with serving(copy_platform(trained_home, home), home) as predictor:
        yield predictor


@pytest.fixture(scope="module")
def redis_predictor(trained_home: Settings, prod_services: ProdServices,
                    tmp_path_factory) -> Iterator[RunningPredictor]:
    require_redis()
    home = tmp_path_factory.mktemp("redis-platform") / "home"
    project = new_project()
    try:
        with serving(redis_platform_for(trained_home, prod_services, home, SHARED_REDIS, project),
                     home) as predictor:
            yield predictor
    finally:
        delete_project_keys(SHARED_REDIS, project)


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def any_predictor(request) -> RunningPredictor:
    """Each test using it runs against a SQLite-backed and a Redis-backed predictor."""
    return request.getfixturevalue(f"{request.param}_predictor")
