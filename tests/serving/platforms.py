"""Serving test platforms: a private copy of the session's Feast state, on SQLite or on Redis.

Each platform has its own SHIPYARD_HOME (a copy of the trained home's feast/ folder) and reads the
session's MLflow registry; a Redis platform uses its own Feast project, whose keys are deleted after.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from shipyard.settings import Settings
from shipyard.usecase import load_use_case
from tests.conftest import fail_in_ci_else_skip

# A customer id the generator never produces; tests write a stale row for it.
STALE_CUSTOMER = 900_000_001
UNKNOWN_CUSTOMER = 987_654_321


def require(available: bool, message: str) -> None:
    """Under CI a missing service fails the test; elsewhere it is skipped with the reason."""
    if available:
        return
    fail_in_ci_else_skip(message)


def require_redis(port: int = 6379) -> None:
    from shipyard_cli.processes import redis_answers

    require(redis_answers(port)(), f"Redis does not answer on 127.0.0.1:{port}")


@dataclass
class Platform:
    settings: Settings  # in-process view (Feast writes); the server gets ``env``
    env: dict[str, str]


def new_project() -> str:
    return f"shipyard_t{uuid.uuid4().hex[:10]}"


def copy_platform(trained: Settings, home: Path, redis_url: str | None = None, project: str = "",
                  registry_uri: str | None = None) -> Platform:
    """A home with its own Feast state; with ``redis_url`` the online store is Redis and the registry
    Feast's SQL registry at ``registry_uri`` (the prod profile), under a project of its own."""
    from shipyard import features

    shutil.copytree(trained.feast_dir, home / "feast")
    settings = replace(trained, home=home, prediction_log_dir=home / "predictions")
    env = {"SHIPYARD_HOME": str(home), "SHIPYARD_PREDICTION_LOG_DIR": str(settings.prediction_log_dir),
           "SHIPYARD_MLFLOW_TRACKING_URI": trained.mlflow_tracking_uri, "SHIPYARD_PROFILE": "local",
           "SHIPYARD_USE_CASE": trained.use_case,
           "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    if redis_url is not None:
        project = project or new_project()
        if registry_uri is None:
            raise ValueError("the prod profile keeps Feast's registry in PostgreSQL: pass registry_uri")
        settings = replace(settings, profile="prod", redis_url=redis_url, feast_project=project,
                           feast_registry_uri=registry_uri)
        env.update(SHIPYARD_PROFILE="prod", SHIPYARD_REDIS_URL=redis_url, SHIPYARD_FEAST_PROJECT=project,
                   SHIPYARD_FEAST_REGISTRY_URI=registry_uri)
        use_case = load_use_case(settings.use_case)
        features.apply(settings, use_case)
        features.materialize(settings)
    return Platform(settings, env)


def write_stale_row(settings: Settings, customer_id: int = STALE_CUSTOMER) -> pd.Timestamp:
    """A row for ``customer_id`` stamped three days before the view's materialization end (TTL: 2 days)."""
    from shipyard import features

    store = features.feature_store(settings)
    view = store.get_feature_view("customer_spend_stats")
    stamp = pd.Timestamp(view.most_recent_end_time) - pd.Timedelta(days=3)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
    row = pd.DataFrame({"customer_id": [customer_id], "event_timestamp": [stamp],
                        "created_timestamp": [stamp], "txn_count_7d": [5],
                        "avg_amount_7d": [80.0], "max_amount_7d": [200.0]})
    store.write_to_online_store(view.name, row)
    return stamp


def delete_project_keys(redis_url: str, project: str) -> int:
    """Feast's Redis keys end with the project name: delete this project's, and only those."""
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"*{project}", count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start:start + 500])
    client.close()
    return len(keys)


def logged_when(log_dir: Path, ready, timeout: float = 40.0) -> pd.DataFrame:
    """The prediction log once ``ready(log)`` holds. The predictor writes its log in batches at least
    every 10 s (components/serving/prediction_log.py): a record is on disk within that bound, not at
    once. Returns the last read either way, so the caller's assertion says what is missing."""
    import time

    from components.serving.prediction_log import read_prediction_log

    deadline = time.monotonic() + timeout
    while True:
        log = read_prediction_log(log_dir)
        try:
            if ready(log):
                return log
        except KeyError:  # nothing written yet: the columns are not there
            pass
        if time.monotonic() > deadline:
            return log
        time.sleep(0.5)
