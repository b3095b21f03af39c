"""The training pipeline with MLflow tracking and registry on PostgreSQL (the production backend)."""

import pytest

from components.register import RUN_TAG
from pipelines.runs import run_training
from shipyard import registry
from shipyard.settings import Settings
from tests.platform_setup import prepare_platform

pytestmark = pytest.mark.integration


def test_training_on_postgresql_registers_a_champion(shipyard_home, postgres_database, monkeypatch):
    import psycopg2

    monkeypatch.setenv("SHIPYARD_MLFLOW_TRACKING_URI", postgres_database)
    settings = Settings.from_env()
    assert settings.mlflow_tracking_uri.startswith("postgresql+psycopg2://")
    prepare_platform(settings, rows=6_000)

    outcome = run_training(settings, min_roc_auc=0.7, min_pr_auc=0.0, max_iter=50)
    assert outcome.promoted and outcome.version == 1, outcome.describe()
    assert registry.resolve_version(settings, "fraud") == 1
    assert registry.versions_tagged(settings, "fraud", RUN_TAG, outcome.run_id) == [1]
    assert len(registry.input_columns(settings, "fraud", 1)) == 6
    with psycopg2.connect(postgres_database.replace("+psycopg2", "")) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT alias, version FROM registered_model_aliases WHERE name = 'fraud' ORDER BY alias")
        assert cursor.fetchall() == [("challenger", 1), ("champion", 1)]
    connection.close()
