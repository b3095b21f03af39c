"""The training and retraining pipelines on the session's trained platform (real Feast, MLflow, kfp.local)."""

import pytest

from pipelines.runs import run_retraining
from shipyard import registry

pytestmark = pytest.mark.integration

INPUTS = ["amount", "merchant_category", "hour", "txn_count_7d", "avg_amount_7d", "max_amount_7d"]


def test_pipeline_registers_a_champion_with_lineage(use_trained_home):
    settings = use_trained_home
    client = registry.client(settings)
    version = registry.resolve_version(settings, "fraud")
    model_version = client.get_model_version("fraud", str(version))
    run = client.get_run(model_version.run_id)
    assert run.data.metrics["roc_auc"] >= 0.7
    assert {"pr_auc", "recall_at_alert_rate", "brier_score", "expected_calibration_error",
            "merchant_category.online.roc_auc"} <= set(run.data.metrics)
    assert run.data.params["model_family"] == "hist_gradient_boosting"
    tags = run.data.tags
    assert tags["shipyard.feature_service"] == "fraud_model_v1"
    assert tags["shipyard.data_snapshot"].startswith("sha256:") and len(tags["shipyard.data_snapshot"]) == 71
    training, evaluation = tags["shipyard.training_window"].split("/"), tags["shipyard.evaluation_window"].split("/")
    assert training[1] == evaluation[0] < evaluation[1] < tags["shipyard.as_of"]  # windows end before as_of
    assert {"reference_roc_auc", "reference_pr_auc", "holdout_rows", "reference_holdout_rows"} <= set(run.data.metrics)
    assert tags["shipyard.kfp_run_id"] and tags["shipyard.trigger"] == "training"
    assert tags["shipyard.git_commit"]
    assert model_version.tags["shipyard.kfp_run_id"] == tags["shipyard.kfp_run_id"]
    assert model_version.tags["shipyard.gate.decision"] == "promoted"
    assert "threshold" in model_version.tags["shipyard.gate"]
    (dataset,) = [d for d in run.inputs.dataset_inputs if d.tags[0].value == "training"]
    assert dataset.dataset.name == "fraud-training-set"
    columns = registry.input_columns(settings, "fraud", version)
    assert columns == INPUTS
    schema = {spec.name: spec.type.name for spec in
              __import__("mlflow").models.get_model_info(registry.model_uri("fraud", version)).signature.inputs.inputs}
    assert schema == {"amount": "double", "merchant_category": "string", "hour": "long", "txn_count_7d": "long",
                      "avg_amount_7d": "double", "max_amount_7d": "double"}
    report = client.download_artifacts(model_version.run_id, "validation/report.md", str(settings.home / "t-report"))
    assert "# Data validation: PASSED" in open(report).read()
    reference = registry.reference_data(settings, "fraud", version, settings.home / "test-reference")
    assert set(columns) <= set(reference.columns) and len(reference) > 1_000
    assert reference[columns].notna().all().all()


@pytest.mark.slow  # two pipeline runs: `make test-slow`
def test_retraining_worse_than_the_champion_is_rejected_once_per_key(use_trained_home):
    settings = use_trained_home
    client = registry.client(settings)
    champion = registry.resolve_version(settings, "fraud")
    # Passes the absolute thresholds, loses to the champion on the same holdouts.
    weak = dict(max_iter=2, max_leaf_nodes=2, min_roc_auc=0.5, min_pr_auc=0.0, tolerance=0.0)
    outcome = run_retraining(settings, reason="ShipyardFeatureDriftHigh: amount", idempotency_key="alert-42", **weak)
    assert outcome.status == "succeeded" and outcome.pipeline == "retraining"
    assert not outcome.promoted and outcome.previous_champion == champion == outcome.champion_version
    assert outcome.decision == "rejected" and f"champion v{champion}: roc_auc" in outcome.gate
    assert "champion unchanged" in outcome.gate
    assert registry.alias_version(settings, "fraud", registry.CHAMPION) == champion
    assert registry.alias_version(settings, "fraud", registry.CHALLENGER) == outcome.version
    assert outcome.validation_report is not None and "PASSED" in outcome.validation_report.read_text()
    tags = client.get_model_version("fraud", str(outcome.version)).tags
    assert tags["shipyard.idempotency_key"] == "alert-42" and tags["shipyard.gate.decision"] == "rejected"
    assert tags["shipyard.retraining_reason"] == "ShipyardFeatureDriftHigh: amount"

    versions = len(client.search_model_versions("name = 'fraud'"))
    again = run_retraining(settings, reason="the same alert, delivered twice", idempotency_key="alert-42")
    assert again == outcome
    assert len(client.search_model_versions("name = 'fraud'")) == versions
