"""The drift job and the quality export for a regression: delivery times, trained by the real pipeline.

Each delivery scenario's traffic is logged as the predictor would have served it (the online store
kept fresh by the feature job: tests/monitoring/logged_traffic.py), with the delivery times arriving
late. The drift job flags each scenario's shifted columns and none on normal traffic; the monitor
exports the window's MAE, RMSE and 90th-percentile error beside the served version's holdout MAE,
and never the classification series the ROC AUC and recall alerts key on.
"""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from monitoring.drift import run_drift_job
from monitoring.exporter import DriftMetrics
from monitoring.service import run_once
from shipyard import data, registry
from shipyard.settings import Settings
from tests.monitoring.logged_traffic import SEED, logged_rows, write_log
from tests.platform_setup import SMALL_ROWS
from usecases.delivery import USE_CASE
from usecases.delivery.data import BASELINE_DAYS, TRAFFIC_DAYS

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # several drift runs: `make test-slow`
# A week of traffic at the baseline's rate, so the per-restaurant counts (orders_7d, orders_last_hour)
# of normal traffic look like the training data's.
WINDOW = round(SMALL_ROWS * TRAFFIC_DAYS / BASELINE_DAYS)
INPUTS = ["distance_km", "basket_items", "hour", "orders_7d", "avg_prep_minutes_7d", "orders_last_hour"]
MAE_MARGIN = 1.25  # ShipyardModelMaeHigh in monitoring/prometheus/rules.yaml
LABELS = {"model": "delivery", "version": "1"}
QUALITY = ("shipyard_model_mae", "shipyard_model_rmse", "shipyard_model_p90_absolute_error",
           "shipyard_model_holdout_mae", "shipyard_drift_labelled_rows")
CLASSIFICATION = ("shipyard_model_roc_auc", "shipyard_model_recall", "shipyard_model_holdout_roc_auc",
                  "shipyard_model_holdout_recall")


def own_home(trained: Settings, tmp_path) -> Settings:
    """The delivery platform's registry, with this test's own home (label feed, reports, cache, log)."""
    return Settings.from_env({"SHIPYARD_HOME": str(tmp_path / "home"), "SHIPYARD_USE_CASE": "delivery",
                              "SHIPYARD_MLFLOW_TRACKING_URI": trained.mlflow_tracking_uri,
                              "SHIPYARD_MLFLOW_ARTIFACT_ROOT": trained.mlflow_artifact_root})


def logged_traffic(trained: Settings, tmp_path, scenario: str) -> tuple[Settings, object, int]:
    """``scenario``'s traffic in a fresh prediction log, its late labels in the test's own feed file,
    and how many predictions the log holds."""
    settings = own_home(trained, tmp_path)
    settings.ensure_dirs()
    events = USE_CASE.generate(WINDOW, SEED, scenario)
    rows = logged_rows(trained, USE_CASE, events, fresh=True)
    assert len(rows) > WINDOW // 2  # most orders come from restaurants with a recent history
    write_log(settings, rows)
    feed = tmp_path / f"labels-{scenario}.parquet"
    events.to_parquet(feed)
    return settings, feed, len(rows)


def drifted(result) -> list[str]:
    return sorted(f.feature for f in result.features if f.drifted)


@pytest.mark.parametrize("scenario", ["normal", *USE_CASE.scenarios])
def test_the_drift_job_flags_each_delivery_scenarios_shifted_columns(trained_delivery_home, tmp_path, scenario):
    settings, feed, logged = logged_traffic(trained_delivery_home, tmp_path, scenario)
    result = run_drift_job(settings, USE_CASE, WINDOW, label_files=[feed])
    assert result.model_name == "delivery" and result.window_rows == logged and result.skipped == {}
    assert [f.feature for f in result.features] == INPUTS  # request fields and features, not the entity
    assert result.prediction_drift is not None and result.target_drift is not None
    assert result.target_drift.method == "wasserstein"  # the delivery time is a number, not a class
    if scenario == "normal":
        assert drifted(result) == [] and not result.prediction_drift.drifted, result.features
        assert not result.target_drift.drifted
    else:
        shifted = set(USE_CASE.scenario(scenario).shifted_columns)
        assert shifted <= set(drifted(result)), (scenario, result.features)
        assert result.prediction_drift.drifted  # the estimates move with the shifted inputs
        assert result.target_drift.drifted  # and so do the real delivery times


def exported_quality(trained: Settings, tmp_path, scenario: str) -> dict[str, float | None]:
    settings, feed, logged = logged_traffic(trained, tmp_path, scenario)
    # The monitor reads the late labels where the generator writes traffic: the (test's own) offline store.
    target = data.events_path(settings, scenario)
    target.parent.mkdir(parents=True, exist_ok=True)
    feed.replace(target)
    metrics = DriftMetrics(CollectorRegistry())
    assert run_once(settings, USE_CASE, metrics, WINDOW)
    exported = {name: metrics.registry.get_sample_value(name, LABELS) for name in (*QUALITY, *CLASSIFICATION)}
    return {**exported, "logged": logged}


def test_normal_traffic_exports_errors_at_the_holdout_level(trained_delivery_home, tmp_path):
    exported = exported_quality(trained_delivery_home, tmp_path, "normal")
    client = registry.client(trained_delivery_home)
    logged = client.get_run(client.get_model_version("delivery", "1").run_id).data.metrics
    assert exported["shipyard_model_holdout_mae"] == pytest.approx(logged["mae"])
    assert exported["shipyard_drift_labelled_rows"] == exported["logged"]  # every delivery time has arrived
    mae, rmse, p90 = (exported[n] for n in QUALITY[:3])
    assert 0 < mae <= rmse and p90 > mae, exported
    assert mae < MAE_MARGIN * exported["shipyard_model_holdout_mae"], exported  # no alert on normal traffic
    assert all(exported[name] is None for name in CLASSIFICATION), exported  # the AUC/recall alerts stay silent


@pytest.mark.parametrize("scenario", ["suburb_expansion", "kitchen_slowdown"])
def test_longer_rides_or_slower_kitchens_raise_the_window_mae_past_the_alert_margin(trained_delivery_home, tmp_path,
                                                                                   scenario):
    exported = exported_quality(trained_delivery_home, tmp_path, scenario)
    assert exported["shipyard_model_mae"] > MAE_MARGIN * exported["shipyard_model_holdout_mae"], exported
    assert all(exported[name] is None for name in CLASSIFICATION), exported
