from pathlib import Path

import pytest

from shipyard.features import redis_connection_string
from shipyard.settings import Settings, SettingsError

pytestmark = pytest.mark.unit


def test_local_profile_keeps_everything_under_home(tmp_path: Path):
    settings = Settings.from_env({"SHIPYARD_HOME": str(tmp_path)})
    assert settings.profile == "local"
    assert settings.mlflow_tracking_uri == f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    assert settings.mlflow_artifact_root == (tmp_path / "mlflow" / "artifacts").as_uri()
    assert settings.prediction_log_dir == tmp_path / "predictions"
    assert settings.feature_store_yaml.name == "feature_store.yaml"
    assert settings.model_version is None


PROD = {"SHIPYARD_PROFILE": "prod", "SHIPYARD_MLFLOW_TRACKING_URI": "http://mlflow:5000",
        "SHIPYARD_FEAST_REGISTRY_URI": "postgresql://feast@db/feast"}


def test_prod_profile_needs_a_server_tracking_uri(tmp_path: Path):
    env = {"SHIPYARD_HOME": str(tmp_path), **PROD}
    del env["SHIPYARD_MLFLOW_TRACKING_URI"]
    with pytest.raises(SettingsError, match="^SHIPYARD_MLFLOW_TRACKING_URI is not set"):
        Settings.from_env(env)
    with pytest.raises(SettingsError, match="SHIPYARD_MLFLOW_TRACKING_URI must be the MLflow server's http"):
        Settings.from_env({**env, "SHIPYARD_MLFLOW_TRACKING_URI": "postgresql://mlflow@db/mlflow"})
    settings = Settings.from_env({"SHIPYARD_HOME": str(tmp_path), **PROD})
    assert settings.feature_store_yaml.name == "feature_store.prod.yaml"
    assert settings.mlflow_artifact_root is None  # the server proxies artifacts: clients name no store
    # The project ships psycopg2; Feast would otherwise pick psycopg 3 for a bare postgresql:// URL.
    assert settings.feast_registry_uri == "postgresql+psycopg2://feast@db/feast"


def test_prod_profile_keeps_feast_registry_in_postgresql(tmp_path: Path):
    env = {"SHIPYARD_HOME": str(tmp_path), **PROD}
    with pytest.raises(SettingsError, match="^SHIPYARD_FEAST_REGISTRY_URI is not set"):
        Settings.from_env({k: v for k, v in env.items() if k != "SHIPYARD_FEAST_REGISTRY_URI"})
    with pytest.raises(SettingsError, match="SHIPYARD_FEAST_REGISTRY_URI must be a postgresql:// URL"):
        Settings.from_env({**env, "SHIPYARD_FEAST_REGISTRY_URI": str(tmp_path / "registry.db")})


def test_a_component_reads_only_its_variables(tmp_path: Path):
    env = {"SHIPYARD_HOME": str(tmp_path), **PROD, "SHIPYARD_KFP_HOST": "http://kfp:8888",
           "SHIPYARD_PREDICTION_LOG_DIR": str(tmp_path / "log")}
    materializer = Settings.from_env(env, component="materializer")
    assert materializer.kfp_host is None and materializer.prediction_log_dir == tmp_path / "predictions"
    assert Settings.from_env(env, component="drift-monitor").kfp_host == "http://kfp:8888"
    # The materializer never talks to MLflow, so a prod materializer without an MLflow URI is fine.
    del env["SHIPYARD_MLFLOW_TRACKING_URI"]
    assert Settings.from_env(env, component="materializer").profile == "prod"
    with pytest.raises(SettingsError, match="unknown component 'webhook'"):
        Settings.from_env(env, component="webhook")


def test_offline_store_defaults_under_home_and_is_an_explicit_setting(tmp_path: Path):
    assert Settings.from_env({"SHIPYARD_HOME": str(tmp_path)}).offline_store_path == tmp_path / "offline"
    shared = tmp_path / "shared"
    settings = Settings.from_env({"SHIPYARD_HOME": str(tmp_path), "SHIPYARD_OFFLINE_STORE_URI": shared.as_uri()})
    assert settings.offline_store_path == shared
    with pytest.raises(SettingsError, match="SHIPYARD_OFFLINE_STORE_URI must be a local folder"):
        Settings.from_env({"SHIPYARD_HOME": str(tmp_path), "SHIPYARD_OFFLINE_STORE_URI": "s3://bucket/offline"})


def test_environment_round_trips_through_from_env(tmp_path: Path):
    settings = Settings.from_env({"SHIPYARD_HOME": str(tmp_path), **PROD}, component="pipeline")
    assert Settings.from_env(settings.environment("pipeline"), component="pipeline") == settings


@pytest.mark.parametrize("env, message", [
    ({"SHIPYARD_PROFILE": "staging"}, "SHIPYARD_PROFILE"),
    ({"SHIPYARD_MODEL_VERSION": "three"}, "whole number"),
    ({"SHIPYARD_REDIS_URL": "redis//cache:6379"}, "^SHIPYARD_REDIS_URL must be a redis://HOST"),
    ({"SHIPYARD_REDIS_URL": "redis://cache:63x9/0"}, "^SHIPYARD_REDIS_URL has a port that is not a number"),
    ({"SHIPYARD_REDIS_URL": "redis://cache:6379/zero"}, "^SHIPYARD_REDIS_URL must end in a database number"),
])
def test_bad_values_are_named(tmp_path: Path, env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"SHIPYARD_HOME": str(tmp_path), **env})


def test_pinned_model_version_is_an_integer(tmp_path: Path):
    assert Settings.from_env({"SHIPYARD_HOME": str(tmp_path), "SHIPYARD_MODEL_VERSION": "3"}).model_version == 3


@pytest.mark.parametrize("url, expected", [
    ("redis://127.0.0.1:6379/0", "127.0.0.1:6379,db=0"),
    ("redis://:secret@redis:6380/2", "redis:6380,db=2,password=secret"),
    ("rediss://cache", "cache:6379,db=0,ssl=true"),
])
def test_redis_url_becomes_feast_connection_string(url, expected):
    assert redis_connection_string(url) == expected


def test_non_redis_url_is_refused():
    with pytest.raises(ValueError, match="redis://"):
        redis_connection_string("http://cache:6379")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("command, change, message", [
    (["serve", "--port", "0"], {"SHIPYARD_MLFLOW_TRACKING_URI": None},
     "error: SHIPYARD_MLFLOW_TRACKING_URI is not set: the prod profile needs the MLflow tracking server's"),
    (["monitor", "serve", "--port", "0"], {"SHIPYARD_REDIS_URL": "redis:/cache:6379/0"},
     "error: SHIPYARD_REDIS_URL must be a redis://HOST:PORT/DB URL, not 'redis:/cache:6379/0'"),
    (["features", "materialize"], {"SHIPYARD_FEAST_REGISTRY_URI": "postgresql://postgres@127.0.0.1:{port}/feast"},
     "error: SHIPYARD_FEAST_REGISTRY_URI: PostgreSQL is not reachable at postgresql+psycopg2://postgres@127.0.0.1:"),
])
def test_bad_configuration_is_one_line_and_exit_1_at_start_up(tmp_path: Path, command, change, message):
    """Each component's command, started with one bad variable: one line naming it, before any work."""
    import os
    import subprocess
    import sys

    port = _free_port()  # nothing listens there: an unreachable PostgreSQL
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env.update(SHIPYARD_HOME=str(tmp_path / "home"), **PROD)
    for name, value in change.items():
        if value is None:
            env.pop(name)
        else:
            env[name] = value.format(port=port)
    done = subprocess.run([sys.executable, "-m", "shipyard_cli.main", *command], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), lines
    assert not (tmp_path / "home").exists() or not any((tmp_path / "home").rglob("*.db"))  # no work started
