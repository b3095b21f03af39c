"""Registration is idempotent per pipeline run and never promotes; batch scoring records the version."""

import pandas as pd
import pytest

from components.gate import gate_challenger
from components.register import register_model
from components.train import save_model, train_model
from pipelines.runs import run_batch_scoring
from shipyard import data, registry
from usecases.fraud import USE_CASE

pytestmark = pytest.mark.integration

TYPES = {"amount": "float", "merchant_category": "category", "hour": "int", "txn_count_7d": "int",
         "avg_amount_7d": "float", "max_amount_7d": "float"}


def test_registering_twice_creates_one_version_and_only_the_gate_moves_the_champion(use_trained_home, tmp_path):
    settings = use_trained_home
    champion = registry.resolve_version(settings, "fraud")
    train = registry.reference_data(settings, "fraud", champion, tmp_path / "reference")
    model = train_model(train, list(TYPES), ["merchant_category"], "is_fraud", model_family="logistic_regression",
                        max_iter=50)
    save_model(model, tmp_path / "model.skops")
    train_path = tmp_path / "train.parquet"
    train.to_parquet(train_path)
    client = registry.client(settings)
    before = len(client.search_model_versions("name = 'fraud'"))

    def register():
        return register_model(settings, str(tmp_path / "model.skops"), str(train_path), list(TYPES), TYPES,
                              {"roc_auc": 0.9}, {"model_family": "logistic_regression"}, "kfp-run-7",
                              {"shipyard.trigger": "test"})

    first, second = register(), register()
    assert first.created and not second.created
    assert first.version == second.version and first.run_id == second.run_id
    assert len(client.search_model_versions("name = 'fraud'")) == before + 1
    assert registry.alias_version(settings, "fraud", registry.CHALLENGER) == first.version
    assert registry.alias_version(settings, "fraud", registry.CHAMPION) == champion  # registering never promotes

    decision = gate_challenger(settings, "fraud", first.version, str(train_path), str(train_path), "is_fraud",
                               {"roc_auc": 0.9, "pr_auc": 0.3}, min_roc_auc=0.999, min_pr_auc=0.0, tolerance=0.01,
                               max_reference_drop=0.05)
    assert not decision.promote and decision.reason == "rejected, champion unchanged: roc_auc 0.9000 < threshold 0.999"
    assert registry.alias_version(settings, "fraud", registry.CHAMPION) == champion
    tags = client.get_model_version("fraud", str(first.version)).tags
    assert tags["shipyard.gate"] == decision.reason and tags["shipyard.gate.decision"] == "rejected"


def test_batch_scoring_writes_scores_with_the_champion_version(use_trained_home, tmp_path):
    settings = use_trained_home
    customers = USE_CASE.generate(300, 5, "normal")[[f.name for f in USE_CASE.request_fields]]
    customers.loc[0, "customer_id"] = 10_000_000  # a card holder the feature store has never seen
    table = tmp_path / "customers.parquet"
    customers.to_parquet(table, index=False)

    outcome = run_batch_scoring(settings, table, tmp_path / "scores.parquet")
    scores = pd.read_parquet(outcome.output)
    champion = registry.resolve_version(settings, "fraud")
    assert outcome.rows == len(scores) == 300 and outcome.model_version == champion
    assert set(scores["model_version"]) == {champion} and set(scores["model_name"]) == {"fraud"}
    assert scores["score"].between(0, 1).all() and scores["score"].nunique() > 10
    assert list(scores["customer_id"]) == list(customers["customer_id"])  # row order kept
    known = data.read_table(settings, "customer_spend_stats", "event_timestamp", columns=["customer_id"])["customer_id"]
    assert scores.loc[0, "features_missing"]  # unknown entities score with zeros, flagged as in serving
    assert (scores["features_missing"] == ~scores["customer_id"].isin(set(known))).all()
