"""The real training pipeline (kfp.local, Feast, MLflow) for a regression use case: delivery times.

One pipeline run trains, evaluates, registers and gates the first delivery model; a deliberately worse
regression, registered as the next challenger, is then judged by the same gate against that champion.
"""

from collections.abc import Iterator

import pandas as pd
import pytest

from shipyard import registry
from shipyard.settings import Settings
from tests.conftest import home_environment
from tests.platform_setup import prepare_platform

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # a whole pipeline run: `make test-slow`

INPUTS = ["distance_km", "basket_items", "hour", "orders_7d", "avg_prep_minutes_7d", "orders_last_hour"]
KINDS = {"double": "float", "long": "int", "string": "category"}


@pytest.fixture(scope="module")
def delivery_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A home whose use case is delivery: orders generated, Feast applied and materialized."""
    with home_environment(tmp_path_factory.mktemp("delivery") / "home", "delivery") as settings:
        assert settings.use_case == "delivery"
        prepare_platform(settings)
        yield settings


def test_training_pipeline_registers_and_gates_a_regression(delivery_home):
    import mlflow

    from components.evaluate import evaluate_model
    from components.gate import gate_challenger
    from components.register import register_model
    from components.train import save_model, train_model
    from pipelines.runs import run_training
    from usecases.delivery import USE_CASE

    settings = delivery_home
    outcome = run_training(settings, max_iter=100)
    assert outcome.promoted and outcome.decision == "promoted", outcome.describe()
    assert "mae=" in outcome.describe() and "roc_auc" not in outcome.describe()
    assert f"<= threshold {USE_CASE.max_mae}" in outcome.gate and "below baseline_mae" in outcome.gate

    client = registry.client(settings)
    champion = outcome.version
    model_version = client.get_model_version("delivery", str(champion))
    run = client.get_run(model_version.run_id)
    metrics = run.data.metrics
    assert {"mae", "rmse", "p90_absolute_error", "pinball_loss_0_9", "baseline_mae", "reference_mae",
            "reference_rmse"} <= set(metrics)
    assert not {"roc_auc", "pr_auc"} & set(metrics)
    assert metrics["mae"] < USE_CASE.max_mae and metrics["mae"] < 0.6 * metrics["baseline_mae"]
    assert metrics["rmse"] >= metrics["mae"] and metrics["p90_absolute_error"] > metrics["mae"]
    assert run.data.params["model_family"] == "hist_gradient_boosting" and run.data.params["task"] == "regression"
    assert run.data.tags["shipyard.feature_service"] == "delivery_time_v1"
    info = mlflow.models.get_model_info(registry.model_uri("delivery", champion))
    assert info.signature.inputs.input_names() == INPUTS
    assert info.signature.outputs.input_names() == [USE_CASE.output_name] == ["delivery_delivery_minutes"]
    report = client.download_artifacts(model_version.run_id, "validation/report.md", str(settings.home / "t-report"))
    text = open(report).read()
    assert text.startswith("# Data validation: PASSED")
    assert "| label spread | ok |" in text and "label balance" not in text

    # A deliberately worse regression, registered as the next challenger, faces the same gate.
    (train_path,) = settings.pipeline_root.glob("*/build-training-set-op/train_set")
    (holdout_path,) = settings.pipeline_root.glob("*/build-training-set-op/holdout_set")
    (reference_path,) = settings.pipeline_root.glob("*/build-training-set-op/reference_set")
    kinds = {spec.name: KINDS[spec.type.name] for spec in info.signature.inputs.inputs}
    weak = train_model(pd.read_parquet(train_path), INPUTS, [], USE_CASE.label, max_iter=3, max_leaf_nodes=2,
                       task="regression")
    weak_path = settings.home / "weak.skops"
    save_model(weak, weak_path)
    weak_metrics = evaluate_model(weak, pd.read_parquet(holdout_path), INPUTS, USE_CASE.label, task="regression")
    weak_metrics.update({f"reference_{k}": v for k, v in evaluate_model(
        weak, pd.read_parquet(reference_path), INPUTS, USE_CASE.label, task="regression").items()})
    registered = register_model(settings, str(weak_path), str(train_path), INPUTS, kinds, weak_metrics,
                                {"max_iter": 3}, "weak-challenger", {})
    decision = gate_challenger(settings, "delivery", registered.version, str(holdout_path), str(reference_path),
                               USE_CASE.label, weak_metrics, min_roc_auc=0.0, min_pr_auc=0.0, tolerance=0.01,
                               max_reference_drop=100.0, task="regression", max_mae=20.0)
    assert decision.decision == "rejected", decision.reason
    assert f"challenger vs champion v{champion}: mae" in decision.reason
    assert "mae, rmse worse than the champion" in decision.reason
    assert registry.alias_version(settings, "delivery", registry.CHAMPION) == champion
    tags = client.get_model_version("delivery", str(registered.version)).tags
    assert tags["shipyard.gate.decision"] == "rejected" and float(tags["shipyard.gate.move_mae"]) > 0
    assert float(tags["shipyard.gate.champion_mae"]) == pytest.approx(metrics["mae"], abs=1e-5)
