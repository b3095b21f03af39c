import threading

import httpx
import pandas as pd
import pytest

from monitoring.drift import run_drift_job
from monitoring.exporter import serve as serve_metrics
from shipyard.processes import free_port
from shipyard.replay import replay
from shipyard.settings import Settings
from shipyard.usecases.fraud import USE_CASE
from tests.platform_setup import SEED

pytestmark = pytest.mark.integration
WINDOW = 1000


@pytest.fixture
def monitored(predictor, trained_home, monkeypatch) -> Settings:
    """The trained platform, reading the running predictor's prediction log."""
    monkeypatch.setenv("SHIPYARD_HOME", str(trained_home.home))
    monkeypatch.setenv("SHIPYARD_PREDICTION_LOG_DIR", str(predictor.prediction_log_dir))
    return Settings.from_env()


def replay_scenario(predictor, scenario: str) -> None:
    stats = replay(predictor.url, USE_CASE.generate(WINDOW, SEED, scenario), USE_CASE)
    assert stats.ok == WINDOW, stats


def test_drift_job_flags_the_shifted_feature_only_and_exports_metrics(predictor, monitored):
    replay_scenario(predictor, "normal")
    calm = run_drift_job(monitored, USE_CASE, window_rows=WINDOW)
    assert calm.window_rows == WINDOW and calm.model_version == 1
    assert [f.feature for f in calm.features if f.drifted] == []

    replay_scenario(predictor, "amount_inflation")
    shifted = run_drift_job(monitored, USE_CASE, window_rows=WINDOW)
    assert [f.feature for f in shifted.features if f.drifted] == ["amount"]
    assert shifted.drift_share == pytest.approx(1 / 6)
    assert pd.Timestamp(shifted.finished_at, unit="s") > pd.Timestamp(calm.finished_at, unit="s")
    report = shifted.report_path
    assert report.endswith(".html") and "amount" in open(report).read()

    port, stop = free_port(), threading.Event()
    exporter = threading.Thread(target=serve_metrics, args=(monitored, USE_CASE, port, 3600.0, WINDOW, stop))
    exporter.start()
    try:
        body = ""
        for _ in range(200):
            try:
                body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.HTTPError:
                body = ""
            if "shipyard_drift_last_success_timestamp_seconds{" in body:
                break
            stop.wait(0.2)
    finally:
        stop.set()
        exporter.join(timeout=30)
    assert not exporter.is_alive()
    assert 'shipyard_feature_drifted{feature="amount",model="fraud",version="1"} 1.0' in body
    assert 'shipyard_feature_drifted{feature="hour",model="fraud",version="1"} 0.0' in body
    assert 'shipyard_drift_runs_total{model="fraud",status="success",version="1"} 1.0' in body
    assert 'shipyard_drift_window_rows{model="fraud",version="1"} 1000.0' in body


def test_drift_job_with_an_empty_log_says_so(use_trained_home):
    with pytest.raises(ValueError, match="nothing to compare yet"):
        run_drift_job(use_trained_home, USE_CASE)
