"""A process that outlives its local MLflow database reads the new one, not the deleted copy.

`make demo` starts from a fresh state: it deletes the SQLite mlflow.db, and the pipeline's steps (other
processes) create a new one at the same path. A process that read the old database before (the demo's
tests run two demos in one process; a long-lived CLI or server could too) must see only the new one.
"""

import subprocess
import sys

import pytest

from shipyard import registry
from shipyard_cli.demo import fresh_state

pytestmark = pytest.mark.integration
POOL_SETTING = "MLFLOW_SQLALCHEMYSTORE_POOLCLASS"  # MLflow's documented setting that registry.client uses


def test_mlflow_still_documents_the_pool_setting():
    """registry.client relies on this public MLflow setting; a release that drops it fails here."""
    from mlflow import environment_variables

    assert environment_variables.MLFLOW_SQLALCHEMYSTORE_POOLCLASS.name == POOL_SETTING


def test_after_a_fresh_start_this_process_reads_the_database_other_processes_created(shipyard_home, monkeypatch):
    settings = shipyard_home
    monkeypatch.delenv(POOL_SETTING, raising=False)  # as a user's shell has it: unset
    assert settings.mlflow_tracking_uri.startswith("sqlite:")
    registry.client(settings).create_registered_model("before")  # this process opens the database
    assert [m.name for m in registry.client(settings).search_registered_models()] == ["before"]

    assert settings.home / "mlflow" in fresh_state(settings)
    # Another process (as a pipeline step does) creates the new database and registers in it.
    subprocess.run([sys.executable, "-c", "from shipyard import registry; from shipyard.settings import Settings; "
                    "registry.client(Settings.from_env()).create_registered_model('after')"],
                   check=True, capture_output=True, timeout=120)

    assert [m.name for m in registry.client(settings).search_registered_models()] == ["after"]
    assert registry.alias_version(settings, "after", registry.CHAMPION) is None
