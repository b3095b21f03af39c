"""Retraining (as an alert starts it) -> champion gate -> promote step -> commit on the GitOps remote.

The real retraining pipeline runs locally (kfp.local) on a small platform of its own, with a real
bare repository as SHIPYARD_GITOPS_REMOTE; the pushed commit changes one overlay line and names the
version and its metrics.
"""

from __future__ import annotations

import pytest

from shipyard.settings import Settings
from tests.gitops.conftest import MODEL, git
from tests.platform_setup import prepare_platform

# A whole platform set-up and pipeline run: more than the suite's default per-test budget.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500), pytest.mark.slow]


def test_a_retraining_the_gate_promotes_is_pushed_as_one_commit(mlflow_registry, bare_remote, monkeypatch):
    from pipelines.runs import run_retraining

    monkeypatch.setenv("SHIPYARD_GITOPS_REMOTE", str(bare_remote))
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    settings = Settings.from_env()
    prepare_platform(settings)
    outcome = run_retraining(settings, reason="ShipyardFeatureDriftHigh fired", idempotency_key="alert-1",
                             min_roc_auc=0.7, max_iter=100)
    assert outcome.status == "succeeded" and outcome.promoted, outcome.describe()
    branch = f"promote/dev/{MODEL}-v{outcome.version}"
    assert git(bare_remote, "diff", "--numstat", "main", branch).split() == [
        "1", "1", "manifests/overlays/dev/model-version.yaml"]
    diff = git(bare_remote, "diff", "--unified=0", "main", branch)
    assert f'+  SHIPYARD_MODEL_VERSION: "{outcome.version}"' in diff
    message = git(bare_remote, "log", "-1", "--format=%B", branch)
    assert f"Version: {outcome.version}" in message
    assert f"roc_auc={outcome.metrics['roc_auc']:.4g}" in message
    assert "Reason: promoted" in message and "Pipeline run: " in message and "Pipeline run: n/a" not in message
    assert outcome.promotion.startswith("pushed ") and branch in outcome.promotion  # in the run's outcome
    tags = mlflow_registry.tags(outcome.version)
    assert tags["shipyard.promotion.commit"] == git(bare_remote, "rev-parse", branch).strip()

    again = run_retraining(settings, reason="ShipyardFeatureDriftHigh fired", idempotency_key="alert-1")
    assert again.version == outcome.version  # the same alert does not retrain, nor commit, twice
    assert git(bare_remote, "rev-list", "--count", f"main..{branch}").strip() == "1"
