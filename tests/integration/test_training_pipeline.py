import pytest

from shipyard import registry
from shipyard.pipeline_runs import run_training
from shipyard.usecases.fraud import USE_CASE

pytestmark = pytest.mark.integration


def test_pipeline_registers_a_champion_with_lineage(use_trained_home):
    settings = use_trained_home
    client = registry.client(settings)
    version = registry.resolve_version(settings, "fraud")
    model_version = client.get_model_version("fraud", str(version))
    run = client.get_run(model_version.run_id)
    assert run.data.metrics["roc_auc"] >= 0.7
    assert {"pr_auc", "recall_at_alert_rate"} <= set(run.data.metrics)
    assert run.data.params["model_family"] == "hist_gradient_boosting"
    assert run.data.tags["shipyard.feature_service"] == "fraud_model_v1"
    assert "threshold" in model_version.tags["shipyard.gate"]
    columns = registry.input_columns(settings, "fraud", version)
    assert columns == ["amount", "merchant_category", "hour", "txn_count_7d", "avg_amount_7d", "max_amount_7d"]
    reference = registry.reference_data(settings, "fraud", version, settings.home / "test-reference")
    assert set(columns) <= set(reference.columns) and len(reference) > 1_000
    assert reference[columns].notna().all().all()


def test_candidate_below_threshold_leaves_the_champion_alone(use_trained_home):
    settings = use_trained_home
    champion = registry.resolve_version(settings, "fraud")
    outcome = run_training(settings, min_roc_auc=0.999, max_iter=20, model_family="logistic_regression")
    assert outcome.version > champion
    assert not outcome.promoted
    assert "champion unchanged" in outcome.gate
    assert registry.resolve_version(settings, USE_CASE.model_name) == champion
