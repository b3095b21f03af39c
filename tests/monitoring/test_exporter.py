"""The drift exporter's metrics: contract names, promtool-clean, last good values kept."""

import subprocess

import pytest
import yaml
from prometheus_client import generate_latest

from monitoring.drift import DriftResult, FeatureDrift
from monitoring.exporter import DriftMetrics
from monitoring.holdout import HoldoutError, HoldoutQuality
from monitoring.http_app import WebhookRefusals
from monitoring.labels import Quality, RegressionQuality
from shipyard.settings import PROJECT_ROOT
from tests.monitoring.tools import require_tool

pytestmark = pytest.mark.unit


def result(amount_score: float, quality: Quality | None, skipped=None, finished_at=1_800_000_000.0) -> DriftResult:
    features = [FeatureDrift("amount", amount_score, "wasserstein", 0.1, amount_score > 0.1),
                FeatureDrift("hour", 0.02, "wasserstein", 0.1, False)]
    return DriftResult("fraud", 1, 1000, 5000, features, 0.5 if amount_score > 0.1 else 0.0, amount_score > 0.1,
                       f"/x/drift-fraud-v1-{int(finished_at)}.html", finished_at, sampled_rows=1000,
                       prediction_drift=FeatureDrift("score", 0.2, "wasserstein", 0.1, True),
                       target_drift=FeatureDrift("is_fraud", 0.05, "jensenshannon", 0.1, False),
                       quality=quality, skipped=skipped or {})


def regression_result(quality: RegressionQuality | None) -> DriftResult:
    features = [FeatureDrift("distance_km", 0.4, "wasserstein", 0.1, True)]
    return DriftResult("delivery", 2, 1000, 5000, features, 1.0, True, "/x/drift-delivery-v2-1.html", 1_800_000_000.0,
                       prediction_drift=FeatureDrift("score", 0.3, "wasserstein", 0.1, True),
                       target_drift=FeatureDrift("delivery_minutes", 0.2, "wasserstein", 0.1, True), quality=quality)


def scraped(metrics: DriftMetrics) -> str:
    return generate_latest(metrics.registry).decode()


def test_every_monitor_metric_of_the_contract_is_exported():
    metrics = DriftMetrics()
    metrics.record(regression_result(RegressionQuality(800, 4.2, 5.6, 8.9)))  # a regression's quality series
    metrics.record_holdout("delivery", 2, HoldoutError(4.0))
    metrics.record(result(0.3, Quality(500, 0.9, 0.5), {"max_amount_7d": "empty_in_current"}), 1.5)
    metrics.record_failure("fraud", "1")
    metrics.record_holdout("fraud", 1, HoldoutQuality(0.93, 0.4))
    WebhookRefusals(metrics.registry, "fraud")  # the monitor's webhook counts into the same registry
    body = scraped(metrics)
    contract = yaml.safe_load((PROJECT_ROOT / "monitoring" / "prometheus" / "metrics.yaml").read_text())["monitor"]
    for name in contract:
        assert f"\n{name}{{" in body, name
    assert 'shipyard_drift_column_errors_total{feature="max_amount_7d",model="fraud",version="1"} 1.0' in body
    assert 'shipyard_drift_column_errors_total{feature="amount",model="fraud",version="1"} 0.0' in body
    assert 'shipyard_drift_report_info{model="fraud",report="drift-fraud-v1-1800000000.html",version="1"} 1.0' in body


def test_a_run_without_labels_keeps_the_last_good_quality_and_one_report_series():
    metrics = DriftMetrics()
    metrics.record(result(0.3, Quality(500, 0.91, 0.5)))
    metrics.record(result(0.05, None, finished_at=1_800_000_060.0))
    body = scraped(metrics)
    assert 'shipyard_model_roc_auc{model="fraud",version="1"} 0.91' in body
    assert 'shipyard_feature_drifted{feature="amount",model="fraud",version="1"} 0.0' in body
    assert body.count("shipyard_drift_report_info{") == 1 and "1800000060" in body


def test_a_regressor_exports_its_errors_and_never_the_classification_series():
    """The ROC AUC and recall alerts key on series a regressor never exports; the MAE alert on series a
    classifier never exports (monitoring/prometheus/rules.yaml)."""
    metrics = DriftMetrics()
    metrics.record(regression_result(RegressionQuality(800, 4.2, 5.6, 8.9)))
    metrics.record_holdout("delivery", 2, HoldoutError(4.0))
    metrics.record(regression_result(None))  # too few labels: the last good errors stay
    body = scraped(metrics)
    for line in ('shipyard_model_mae{model="delivery",version="2"} 4.2',
                 'shipyard_model_rmse{model="delivery",version="2"} 5.6',
                 'shipyard_model_p90_absolute_error{model="delivery",version="2"} 8.9',
                 'shipyard_model_holdout_mae{model="delivery",version="2"} 4.0',
                 'shipyard_drift_labelled_rows{model="delivery",version="2"} 800.0'):
        assert line in body, line
    assert "\nshipyard_model_roc_auc{" not in body and "\nshipyard_model_recall{" not in body
    assert "\nshipyard_model_holdout_roc_auc{" not in body and "\nshipyard_model_holdout_recall{" not in body

    classifier = DriftMetrics()
    classifier.record(result(0.3, Quality(500, 0.9, 0.5)))
    classifier.record_holdout("fraud", 1, HoldoutQuality(0.93, 0.4))
    assert "_mae{" not in scraped(classifier) and "shipyard_model_rmse{" not in scraped(classifier)


def test_promtool_check_metrics_finds_nothing():
    promtool = require_tool("promtool")
    metrics = DriftMetrics()
    metrics.record(result(0.3, Quality(500, 0.9, 0.5), {"hour": "missing_in_current"}), 2.0)
    metrics.record_failure("fraud", "1")
    checked = subprocess.run([promtool, "check", "metrics"], input=generate_latest(metrics.registry),
                             capture_output=True, timeout=30)
    assert checked.returncode == 0 and checked.stdout + checked.stderr == b"", checked.stdout + checked.stderr
