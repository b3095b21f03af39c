"""The whole loop through the CLI, as `make demo` runs it, on small data in a fresh SHIPYARD_HOME."""

import os
import subprocess
import sys

import pytest

from shipyard import registry
from shipyard.settings import Settings

pytestmark = pytest.mark.e2e


def test_demo_runs_the_loop_and_leaves_a_champion_and_drift_evidence(tmp_path):
    env = {**os.environ, "SHIPYARD_HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    for name in ("SHIPYARD_PREDICTION_LOG_DIR", "SHIPYARD_MLFLOW_TRACKING_URI", "SHIPYARD_MODEL_VERSION"):
        env.pop(name, None)
    result = subprocess.run([sys.executable, "-m", "shipyard_cli.main", "demo", "--rows", "20000", "--traffic", "1000",
                             # the alert loop has its own live test (tests/monitoring/test_alert_loop_live.py)
                             "--no-alert-loop"],
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "Shipyard demo summary" in out
    assert "registered fraud version 1 (champion)" in out
    assert "1000/1000 answered" in out
    assert "drifted: none (share 0.00)" in out
    assert "drifted: amount (share 0.17)" in out

    settings = Settings.from_env({"SHIPYARD_HOME": str(tmp_path / "home")})
    assert registry.resolve_version(settings, "fraud") == 1
    assert list(settings.reports_dir.glob("drift-fraud-v1-*.html"))
    prom = (settings.reports_dir / "drift.prom").read_text()
    assert 'shipyard_feature_drifted{feature="amount",model="fraud",version="1"} 1.0' in prom
