"""The pipeline's promote step: the gate's decision becomes one commit pushed to a real bare repository
(the GitOps remote), or, without a remote, the commit it would make; re-runs push nothing new."""

from __future__ import annotations

import dataclasses

import pytest

from components.promote import promote_step
from shipyard import gitops
from shipyard.settings import PROJECT_ROOT
from tests.gitops.conftest import MODEL, git

pytestmark = pytest.mark.integration

METRICS = {"roc_auc": 0.9412, "pr_auc": 0.6234}
REASON = "promoted: roc_auc 0.9412 >= threshold 0.8; not worse than champion v1"


def step(settings, version: int, promoted: bool = True, **kwargs):
    return promote_step(settings, model=MODEL, version=version, promoted=promoted, gate_reason=REASON,
                        metrics=METRICS, pipeline_run="shipyard-retraining-20260101", env="dev", **kwargs)


def test_a_promotion_pushes_one_commit_changing_one_overlay_line(mlflow_registry, bare_remote):
    settings = dataclasses.replace(mlflow_registry.settings, gitops_remote=str(bare_remote))
    version = mlflow_registry.add_version(gate="promoted")
    before = git(bare_remote, "show", "main:manifests/overlays/dev/model-version.yaml")
    record = step(settings, version)
    branch = f"promote/dev/{MODEL}-v{version}"
    assert (record.state, record.branch) == ("pushed", branch)
    assert git(bare_remote, "rev-parse", branch).strip() == record.sha
    assert git(bare_remote, "rev-list", "--count", f"main..{branch}").strip() == "1"
    diff = git(bare_remote, "diff", "--unified=0", "main", branch)
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    old = gitops._parse_version(before, "main")
    assert changed == [f'-  SHIPYARD_MODEL_VERSION: "{old}"', f'+  SHIPYARD_MODEL_VERSION: "{version}"']
    message = git(bare_remote, "log", "-1", "--format=%B", branch)
    for expected in (f"promote(dev): {MODEL} v{version}", f"Version: {version} (previously {old})",
                     "roc_auc=0.9412", "pr_auc=0.6234", "Pipeline run: shipyard-retraining-20260101",
                     f"Reason: {REASON}"):
        assert expected in message
    tags = mlflow_registry.tags(version)
    assert tags["shipyard.promotion.state"] == "pushed" and tags["shipyard.promotion.commit"] == record.sha
    assert "# Promotion of" in record.markdown() and record.sha in record.markdown()

    again = step(settings, version)  # a retried step, or the pipeline run again
    assert again.state == "already pinned" and again.sha == record.sha
    assert git(bare_remote, "rev-list", "--count", f"main..{branch}").strip() == "1"


def test_pushing_to_the_branch_argo_cd_follows(mlflow_registry, bare_remote):
    settings = dataclasses.replace(mlflow_registry.settings, gitops_remote=str(bare_remote))
    version = mlflow_registry.add_version(gate="promoted")
    main_before = git(bare_remote, "rev-parse", "main").strip()
    record = step(settings, version, branch="main")
    assert record.state == "pushed" and git(bare_remote, "rev-parse", "main").strip() == record.sha
    assert git(bare_remote, "rev-parse", "main~1").strip() == main_before
    assert step(settings, version, branch="main").state == "already pinned"
    assert git(bare_remote, "rev-parse", "main").strip() == record.sha


def test_a_rejected_candidate_commits_nothing(mlflow_registry, bare_remote):
    settings = dataclasses.replace(mlflow_registry.settings, gitops_remote=str(bare_remote))
    version = mlflow_registry.add_version(gate="rejected")
    record = step(settings, version, promoted=False)
    assert record.state == "not promoted" and not record.sha
    assert git(bare_remote, "for-each-ref", "--format=%(refname:short)", "refs/heads").split() == ["main"]
    assert "shipyard.promotion.state" not in mlflow_registry.tags(version)


def test_without_a_remote_the_step_records_the_commit_it_would_make(mlflow_registry):
    assert mlflow_registry.settings.gitops_remote is None
    version = mlflow_registry.add_version(gate="promoted")
    record = step(mlflow_registry.settings, version)
    assert record.state == "planned" and not record.sha
    assert "SHIPYARD_GITOPS_REMOTE" in record.summary and "manifests/overlays/dev/model-version.yaml" in record.summary
    for expected in (f"promote(dev): {MODEL} v{version}", "roc_auc=0.9412", f"Reason: {REASON}"):
        assert expected in record.message
    assert "Commit it would make" in record.markdown()
    assert mlflow_registry.tags(version)["shipyard.promotion.state"] == "planned"


def test_without_a_remote_a_second_use_case_names_its_own_pin(mlflow_registry):
    """The commit it would make changes the model's own pin, with that pin's current version."""
    registry = dataclasses.replace(mlflow_registry, model="delivery")
    version = registry.add_version(gate="promoted")
    record = promote_step(registry.settings, model="delivery", version=version, promoted=True, gate_reason=REASON,
                          metrics={"mae": 4.2}, pipeline_run="run-1", env="dev")
    pinned = gitops.read_version(PROJECT_ROOT, "dev", "delivery")
    assert "manifests/overlays/dev/model-version-delivery.yaml" in record.summary, record.summary
    assert f"(now {pinned})" in record.summary and "delivery" in record.message
