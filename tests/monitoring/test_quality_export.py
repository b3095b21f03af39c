"""Late labels joined to the log: the monitor exports the champion's window quality beside its holdout level.

A card-testing attack (`fraud_pattern_shift`) moves the relation between inputs and label, so the
champion's ROC AUC on the labelled window falls well below its holdout ROC AUC: the series
ShipyardModelRocAucDrop compares. Normal traffic stays within the rule's 0.05.
"""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from monitoring.exporter import DriftMetrics
from monitoring.service import run_once
from shipyard import data, registry
from shipyard.settings import Settings
from tests.monitoring.logged_traffic import SEED, logged_rows, write_log
from usecases.fraud import USE_CASE

pytestmark = pytest.mark.integration
WINDOW = 3_000
DROP_THRESHOLD = 0.05  # ShipyardModelRocAucDrop in monitoring/prometheus/rules.yaml


def own_home(trained: Settings, tmp_path) -> Settings:
    """The trained platform's registry, with this test's own home (label feed, reports, cache, log)."""
    return Settings.from_env({"SHIPYARD_HOME": str(tmp_path / "home"),
                              "SHIPYARD_MLFLOW_TRACKING_URI": trained.mlflow_tracking_uri,
                              "SHIPYARD_MLFLOW_ARTIFACT_ROOT": trained.mlflow_artifact_root})


def quality_after(trained: Settings, tmp_path, scenario: str) -> dict[str, float]:
    settings = own_home(trained, tmp_path)
    settings.ensure_dirs()
    events = USE_CASE.generate(WINDOW, SEED, scenario)
    write_log(settings, logged_rows(trained, USE_CASE, events))
    feed = data.events_path(settings, scenario)  # the late-label feed, where `data generate` writes traffic
    feed.parent.mkdir(parents=True, exist_ok=True)
    events.to_parquet(feed)
    metrics = DriftMetrics(CollectorRegistry())
    assert run_once(settings, USE_CASE, metrics, WINDOW)
    labels = {"model": "fraud", "version": "1"}
    return {name: metrics.registry.get_sample_value(name, labels) for name in
            ("shipyard_model_roc_auc", "shipyard_model_recall", "shipyard_model_holdout_roc_auc",
             "shipyard_model_holdout_recall", "shipyard_drift_labelled_rows")}


def test_holdout_level_is_the_versions_logged_evaluation(trained_home, tmp_path):
    exported = quality_after(trained_home, tmp_path, "normal")
    client = registry.client(trained_home)
    logged = client.get_run(client.get_model_version("fraud", "1").run_id).data.metrics
    assert exported["shipyard_model_holdout_roc_auc"] == pytest.approx(logged["roc_auc"])
    assert exported["shipyard_model_holdout_recall"] == pytest.approx(logged["recall_at_alert_rate"])
    assert exported["shipyard_drift_labelled_rows"] > 0
    # Normal traffic: no drop beyond the rule's threshold.
    assert exported["shipyard_model_holdout_roc_auc"] - exported["shipyard_model_roc_auc"] < DROP_THRESHOLD


def test_card_testing_drops_the_window_auc_below_the_holdout_level(trained_home, tmp_path):
    exported = quality_after(trained_home, tmp_path, "fraud_pattern_shift")
    assert exported["shipyard_model_holdout_roc_auc"] - exported["shipyard_model_roc_auc"] > DROP_THRESHOLD, exported
