"""`make demo-prod`: the whole loop in the production shape, on one machine.

Every component is its own process with its own empty home directory (SHIPYARD_HOME and HOME) and
exactly the environment variables its manifest gives its pod (``Settings.environment(component)``,
the contract tests/manifests/test_environment_contract.py checks against the rendered manifests).
What they share is services only, as on a cluster:

- PostgreSQL: a database of the demo's own (created, dropped at the end) holding MLflow's backend
  store and Feast's SQL registry;
- the MLflow tracking server, started here with proxied artifacts (clients use its http:// URI);
- Redis: a database index of its own for the online store;
- the offline store and the prediction log: folders standing in for the cluster's shared volumes.

Pipelines run from their compiled YAML (pipelines/local.py) with the pipeline's environment. A
component's home is deleted between steps to show that nothing lives there.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from shipyard.settings import COMPONENT_VARIABLES, Settings
from shipyard.usecase import UseCase
from shipyard_cli.processes import ServerProcess, free_port, http_ok, start_mlflow_server
from shipyard_cli.replay import wait_until_logged

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379"
SEED = 7


class StepFailed(RuntimeError):
    """A component's command exited non-zero; the message carries its log's tail."""


@contextlib.contextmanager
def temporary_database(admin_url: str = POSTGRES_ADMIN) -> Iterator[str]:
    """A PostgreSQL database of its own (random name), dropped afterwards; its SQLAlchemy URL."""
    import psycopg2

    admin = psycopg2.connect(admin_url, connect_timeout=5)
    admin.autocommit = True
    name = f"shipyard_prod_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://{admin_url.split('://', 1)[1].rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def free_redis_db(url: str = REDIS) -> int:
    """An empty Redis database index (1-15; 0 is everyone's default)."""
    import redis

    for db in range(15, 0, -1):
        if redis.Redis.from_url(f"{url}/{db}").dbsize() == 0:
            return db
    raise RuntimeError(f"no empty Redis database at {url}: free one (FLUSHDB) or use another Redis")


@dataclass
class ProdShape:
    """The services and the per-component environments of one production-shaped run."""

    workdir: Path
    use_case: UseCase
    database_url: str
    redis_db: int
    mlflow_port: int = field(default_factory=free_port)
    project: str = field(default_factory=lambda: f"shipyard_{uuid.uuid4().hex[:8]}")

    @property
    def shared(self) -> Settings:
        """Values every component gets for the variables it reads (the ConfigMap of this machine)."""
        return Settings.from_env({
            "SHIPYARD_PROFILE": "prod", "SHIPYARD_HOME": str(self.workdir / "unused-home"),
            "SHIPYARD_USE_CASE": self.use_case.name,
            "SHIPYARD_MLFLOW_TRACKING_URI": f"http://127.0.0.1:{self.mlflow_port}",
            "SHIPYARD_REDIS_URL": f"{REDIS}/{self.redis_db}", "SHIPYARD_FEAST_PROJECT": self.project,
            "SHIPYARD_FEAST_REGISTRY_URI": self.database_url,
            "SHIPYARD_OFFLINE_STORE_URI": str(self.workdir / "offline-store"),
            "SHIPYARD_PREDICTION_LOG_DIR": str(self.workdir / "prediction-log"),
        })

    def home(self, name: str) -> Path:
        return self.workdir / "homes" / name

    def environment(self, component: str, home_name: str) -> dict[str, str]:
        """The process environment of one component: no Shipyard variable but its own, an empty home."""
        home = self.home(home_name)
        home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIPYARD_", "MLFLOW_"))}
        env.update({k: v for k, v in self.shared.environment(component).items() if v != ""})
        env.update(SHIPYARD_HOME=str(home), HOME=str(home), MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false")
        return env

    def forget(self, home_name: str) -> None:
        """Delete a component's home: the loop must not notice."""
        shutil.rmtree(self.home(home_name), ignore_errors=True)

    def run(self, component: str, home_name: str, args: list[str], timeout: float = 1800) -> str:
        """One `shipyard ...` command as ``component``; its output, or StepFailed with the log's tail."""
        log = self.workdir / "logs" / f"{home_name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([sys.executable, "-m", "shipyard_cli.main", *args], capture_output=True, text=True,
                              env=self.environment(component, home_name), timeout=timeout)
        with open(log, "a") as out:
            out.write(f"$ shipyard {' '.join(args)}\n{done.stdout}{done.stderr}\n")
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise StepFailed(f"`shipyard {' '.join(args)}` ({component}) exited {done.returncode}:\n{tail}")
        return done.stdout.strip()

    def server(self, component: str, home_name: str, args: list[str]) -> ServerProcess:
        return ServerProcess(args, self.workdir / "logs" / f"{home_name}.log", self.environment(component, home_name))

    def teardown_online_store(self) -> None:
        """Delete this run's Redis keys (its own database index)."""
        import redis

        redis.Redis.from_url(f"{REDIS}/{self.redis_db}").flushdb()


@dataclass
class ProdDemoOutcome:
    trained: str
    materialized: str
    freshness: list[str]
    answered: list[int]  # per predictor process
    requests: int
    logged_rows: int
    drift_alert: str | None
    retraining: str | None
    homes_deleted: list[str]
    artifacts_on_server: int  # files under the MLflow server's artifact destination
    workdir: Path


def _replay_on_both(urls: list[str], events: pd.DataFrame, use_case: UseCase) -> list[int]:
    """Replay ``events`` split across the predictors, all at once; answered requests per predictor."""
    from shipyard_cli.replay import replay

    parts = [events.iloc[i::len(urls)] for i in range(len(urls))]
    answered = [0] * len(urls)

    def one(i: int) -> None:
        answered[i] = replay(urls[i], parts[i], use_case).ok

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(urls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answered


def run_prod_demo(use_case: UseCase, *, rows: int, traffic: int, scenario: str, workdir: Path | None = None,
                  alert_loop: bool = True, say: Callable[[str], None] = print) -> ProdDemoOutcome:
    """The loop in the production shape; every process started here is stopped, the database dropped."""
    from shipyard_cli.alert_stack import MonitoringStack
    from shipyard_cli.drift_loop import watch_drift_loop

    owned = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="shipyard-prod-")) if owned else workdir
    workdir.mkdir(parents=True, exist_ok=True)
    deleted: list[str] = []
    servers: list[ServerProcess] = []
    with temporary_database() as database, contextlib.ExitStack() as stack:
        shape = ProdShape(workdir, use_case, database, free_redis_db())
        stack.callback(shape.teardown_online_store)
        say(f"PostgreSQL database {database.rsplit('/', 1)[1]}, Redis db {shape.redis_db}, work in {workdir}")
        mlflow = start_mlflow_server(shape.mlflow_port, database, workdir / "logs" / "mlflow-server.log",
                                     artifacts_destination=workdir / "mlflow-artifacts")
        stack.callback(mlflow.stop)
        say(f"MLflow server with proxied artifacts on http://127.0.0.1:{shape.mlflow_port}")

        # Ingestion writes the offline store; the Feast objects go once into the SQL registry.
        shape.run("pipeline", "ingest", ["data", "generate", "--rows", str(rows), "--seed", str(SEED)])
        for phase in ("normal", scenario):
            shape.run("pipeline", "ingest", ["data", "generate", "--rows", str(traffic), "--seed", str(SEED),
                                             "--scenario", phase])
        shape.forget("ingest")
        deleted.append("ingest")
        say(shape.run("materializer", "feast-apply", ["features", "apply"]))
        shape.forget("feast-apply")
        deleted.append("feast-apply")
        materialized = shape.run("materializer", "materializer", ["features", "materialize"])
        freshness_file = shape.home("materializer") / "reports" / "feature_freshness.prom"
        freshness = [line for line in freshness_file.read_text().splitlines() if line.startswith("shipyard_feature")]
        say(materialized)
        shape.forget("materializer")
        deleted.append("materializer")

        # Training from the compiled YAML, its steps with the pipeline's environment.
        trained = shape.run("pipeline", "trainer", ["pipeline", "run", "training", "--min-roc-auc", "0.7",
                                                    "--max-iter", "100"])
        say(trained)
        shape.forget("trainer")
        deleted.append("trainer")

        ports = [free_port(), free_port()]
        for i, port in enumerate(ports):
            server = shape.server("predictor", f"predictor-{i + 1}", ["serve", "--port", str(port)])
            servers.append(server)
            stack.callback(server.stop)
            server.start()
        for server, port in zip(servers, ports, strict=True):
            server.wait_until(http_ok(f"http://127.0.0.1:{port}/v1/models/{use_case.model_name}"), timeout=300)
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        say(f"two predictor processes on {', '.join(urls)}")

        answered, requests = [0, 0], 0
        drift_onset = time.time()
        for phase in ("normal", scenario):
            events = pd.read_parquet(shape.shared.offline_store_path / "data" / f"traffic-{phase}.parquet")
            drift_onset = time.time()
            answered = [a + b for a, b in zip(answered, _replay_on_both(urls, events, use_case), strict=True)]
            requests += len(events)
            say(f"replayed {phase} traffic on both predictors: {sum(answered)}/{requests} answered so far")
        # Each predictor writes its log in batches (every FLUSH_SECONDS or FLUSH_ROWS records): wait for
        # the answered requests to be on disk before counting them and before the drift job reads them.
        logged = wait_until_logged(shape.shared.prediction_log_dir, sum(answered))

        alert = retraining = None
        if alert_loop:
            monitoring = MonitoringStack(shape.shared, workdir / "monitoring", predictor_port=ports[0],
                                         window_rows=traffic, monitor_env=shape.environment("drift-monitor",
                                                                                            "drift-monitor"))
            with monitoring:
                loop = watch_drift_loop(monitoring, drift_onset, timeout=300, wait_for_retraining=900, on_step=say)
            alert, retraining = loop.alert, f"{loop.retraining_status}: {loop.retraining_outcome}"
        artifacts = sum(1 for p in (workdir / "mlflow-artifacts").rglob("*") if p.is_file())
        outcome = ProdDemoOutcome(trained, materialized, freshness, answered, requests, logged, alert, retraining,
                                  deleted, artifacts, workdir)
    if owned:
        shutil.rmtree(workdir, ignore_errors=True)
    return outcome


def describe(outcome: ProdDemoOutcome) -> list[str]:
    """The summary, one fact per line, paths whole."""
    lines = [f"training: {outcome.trained}",
             f"materialization: {outcome.materialized}",
             *[f"freshness: {line}" for line in outcome.freshness],
             f"traffic: {sum(outcome.answered)}/{outcome.requests} answered "
             f"(predictor 1: {outcome.answered[0]}, predictor 2: {outcome.answered[1]})",
             f"prediction log rows: {outcome.logged_rows}",
             f"homes deleted between steps: {', '.join(outcome.homes_deleted)}",
             f"artifact files on the MLflow server: {outcome.artifacts_on_server}"]
    if outcome.drift_alert:
        lines += [f"drift alert: {outcome.drift_alert}", f"retraining: {outcome.retraining}"]
    return lines


COMPONENTS = tuple(COMPONENT_VARIABLES)
