"""The production backends over real connections: Feast's SQL registry on PostgreSQL with Redis as the
online store (materialized by the job's command, incrementally), and the MLflow server with proxied
artifacts. Each process has its own empty home; what they share is the services."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shipyard.features import chunks
from shipyard.settings import Settings
from shipyard_cli.processes import free_port, start_mlflow_server
from tests.conftest import fail_in_ci_else_skip

pytestmark = pytest.mark.integration


@pytest.fixture
def redis_db():
    from shipyard_cli.prod_demo import free_redis_db

    try:
        db = free_redis_db()
    except Exception as exc:  # noqa: BLE001 - any failure to reach Redis
        fail_in_ci_else_skip(f"Redis is not reachable: {exc}")
    import redis

    yield f"redis://127.0.0.1:6379/{db}"
    redis.Redis.from_url(f"redis://127.0.0.1:6379/{db}").flushdb()


def _env(tmp_path: Path, home: str, registry: str, redis_url: str) -> dict[str, str]:
    (tmp_path / home).mkdir(parents=True, exist_ok=True)
    return {"SHIPYARD_PROFILE": "prod", "SHIPYARD_HOME": str(tmp_path / home),
            "SHIPYARD_FEAST_REGISTRY_URI": registry, "SHIPYARD_REDIS_URL": redis_url,
            "SHIPYARD_FEAST_PROJECT": "shipyard_backend_test",
            "SHIPYARD_MLFLOW_TRACKING_URI": "http://127.0.0.1:9",  # read by the predictor, never called here
            "SHIPYARD_OFFLINE_STORE_URI": str(tmp_path / "offline")}


def _materialize(env: dict[str, str]) -> str:
    process_env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    process_env.update(env, HOME=env["SHIPYARD_HOME"])
    done = subprocess.run([sys.executable, "-m", "shipyard_cli.main", "features", "materialize"], env=process_env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_feast_objects_applied_once_are_read_and_materialized_by_processes_with_empty_homes(
        tmp_path, postgres_database, redis_db):
    import shutil

    import redis

    from shipyard import data, features
    from shipyard.usecase import load_use_case

    use_case = load_use_case("fraud")
    writer = Settings.from_env(_env(tmp_path, "writer", postgres_database, redis_db), component="materializer")
    data.generate(writer, use_case, 3_000, 3, None)
    applied = features.apply(writer, use_case)
    shutil.rmtree(writer.home)  # the registry is in PostgreSQL, not in the applying process's home

    first = _materialize(_env(tmp_path, "materializer-1", postgres_database, redis_db))
    assert "materialized customer_spend_stats" in first and " 0 chunks" not in first, first
    metrics = (tmp_path / "materializer-1" / "reports" / "feature_freshness.prom").read_text()
    assert 'shipyard_feature_freshness_seconds{feature_view="customer_spend_stats"}' in metrics
    assert 'shipyard_feature_newest_event_timestamp_seconds{feature_view="customer_spend_stats"}' in metrics
    assert redis.Redis.from_url(redis_db).dbsize() > 0

    # Incremental: another process, another empty home, starts where the first stopped.
    second = _materialize(_env(tmp_path, "materializer-2", postgres_database, redis_db))
    assert "in 0 chunks" in second, second

    reader = Settings.from_env(_env(tmp_path, "reader", postgres_database, redis_db), component="predictor")
    store = features.feature_store(reader)
    assert sorted(f"FeatureView:{v.name}" for v in store.list_feature_views()) == [
        a for a in applied if a.startswith("FeatureView:")]
    assert store.list_feature_views()[0].most_recent_end_time is not None
    assert not any((tmp_path / "reader").rglob("registry*")), "a registry file in a component's home"


def test_materialization_chunks_cover_the_interval_without_overlap():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    parts = chunks(start, start + timedelta(days=2, hours=5), timedelta(days=1))
    assert [b - a for a, b in parts] == [timedelta(days=1), timedelta(days=1), timedelta(hours=5)]
    assert all(parts[i][1] == parts[i + 1][0] for i in range(len(parts) - 1))
    assert chunks(start, start, timedelta(days=1)) == []
    with pytest.raises(ValueError, match="positive"):
        chunks(start, start + timedelta(days=1), timedelta(0))


def test_mlflow_server_proxies_artifacts_so_clients_need_no_disk(tmp_path, postgres_database):
    import mlflow

    from shipyard import registry

    destination = tmp_path / "server-artifacts"
    port = free_port()
    server = start_mlflow_server(port, postgres_database, tmp_path / "mlflow.log", artifacts_destination=destination)
    try:
        home = tmp_path / "client-home"
        settings = Settings.from_env({"SHIPYARD_PROFILE": "prod", "SHIPYARD_HOME": str(home),
                                      "SHIPYARD_MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}",
                                      "SHIPYARD_FEAST_REGISTRY_URI": postgres_database},
                                     component="pipeline")
        registry.client(settings)
        experiment = registry.experiment_id(settings, "proxied")
        note = tmp_path / "note.txt"
        note.write_text("hello")
        with mlflow.start_run(experiment_id=experiment) as run:
            mlflow.log_artifact(str(note), artifact_path="notes")
        assert mlflow.get_experiment(experiment).artifact_location.startswith("mlflow-artifacts:")
        assert [p.name for p in destination.rglob("note.txt")] == ["note.txt"]
        fetched = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="notes/note.txt",
                                                      dst_path=str(tmp_path / "download"))
        assert Path(fetched).read_text() == "hello"
        assert not home.exists() or not any(home.rglob("note.txt"))
    finally:
        server.stop()
    assert server.process.poll() is not None
