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


def test_prod_profile_needs_a_server_tracking_uri(tmp_path: Path):
    with pytest.raises(SettingsError, match="SHIPYARD_MLFLOW_TRACKING_URI"):
        Settings.from_env({"SHIPYARD_HOME": str(tmp_path), "SHIPYARD_PROFILE": "prod"})
    settings = Settings.from_env({"SHIPYARD_HOME": str(tmp_path), "SHIPYARD_PROFILE": "prod",
                                  "SHIPYARD_MLFLOW_TRACKING_URI": "postgresql://mlflow@db/mlflow"})
    assert settings.feature_store_yaml.name == "feature_store.prod.yaml"


@pytest.mark.parametrize("env, message", [
    ({"SHIPYARD_PROFILE": "staging"}, "SHIPYARD_PROFILE"),
    ({"SHIPYARD_MODEL_VERSION": "three"}, "whole number"),
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
