"""`shipyard promote` against a real MLflow registry (SQLite) and real Git repositories.

It refuses versions the registry does not have or the gate did not promote, cites the registry's
metrics and gate reason, never switches the checkout, and promoting the pinned version is a no-op.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from shipyard import gitops
from shipyard_cli.main import app
from tests.gitops.conftest import git

pytestmark = pytest.mark.integration


def promote(*args: str):
    return CliRunner().invoke(app, ["promote", *args])


def one_error_line(result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_unknown_and_ungated_versions_are_refused_and_nothing_is_committed(checkout, mlflow_registry):
    rejected = mlflow_registry.add_version(gate="rejected", reason="rejected, champion unchanged: roc_auc 0.6 < 0.8")
    never_gated = mlflow_registry.add_version(gate=None)
    assert "does not exist in the MLflow registry" in one_error_line(
        promote("--env", "dev", "--version", "99", "--repo", str(checkout)))
    line = one_error_line(promote("--env", "dev", "--version", str(rejected), "--repo", str(checkout)))
    assert "did not pass the champion gate: rejected, champion unchanged: roc_auc 0.6 < 0.8" in line
    line = one_error_line(promote("--env", "dev", "--version", str(never_gated), "--repo", str(checkout)))
    assert "never judged it" in line
    assert "NAME=NUMBER" in one_error_line(promote("--env", "dev", "--version", "1", "--metric", "auc=high",
                                                   "--repo", str(checkout)))
    assert git(checkout, "rev-list", "--count", "--all").strip() == "1"
    assert git(checkout, "branch", "--list").split() == ["*", "main"]


def test_a_gated_version_is_one_commit_citing_the_registry_and_the_checkout_stays(checkout, mlflow_registry):
    mlflow_registry.add_version(gate="promoted")
    version = mlflow_registry.add_version(gate="promoted", roc_auc=0.9412, pr_auc=0.6234,
                                          reason="promoted: roc_auc 0.9412 >= threshold 0.8",
                                          pipeline_run="shipyard-retraining-abc")
    head, status = git(checkout, "rev-parse", "HEAD"), git(checkout, "status", "--porcelain")
    result = promote("--env", "dev", "--version", str(version), "--repo", str(checkout))
    assert result.exit_code == 0, result.output
    branch = f"promote/dev/fraud-v{version}"
    assert f"on branch {branch}" in result.output
    assert git(checkout, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert (git(checkout, "rev-parse", "HEAD"), git(checkout, "status", "--porcelain")) == (head, status)
    diff = git(checkout, "diff", "main", branch, "--numstat")
    assert diff.split() == ["1", "1", "manifests/overlays/dev/model-version.yaml"]
    message = git(checkout, "log", "-1", "--format=%B", branch)
    for expected in (f"Version: {version}", "pr_auc=0.6234", "roc_auc=0.9412",
                     "Pipeline run: shipyard-retraining-abc", "Reason: promoted: roc_auc 0.9412 >= threshold 0.8"):
        assert expected in message
    assert "segment" not in message

    again = promote("--env", "dev", "--version", str(version), "--repo", str(checkout))
    assert again.exit_code == 0, again.output
    assert "already pins" in again.output and "nothing to commit" in again.output
    assert git(checkout, "rev-list", "--count", f"main..{branch}").strip() == "1"


def test_promoting_the_version_main_already_pins_is_a_no_op(checkout, mlflow_registry):
    pinned = gitops.read_version(checkout, "staging")
    while mlflow_registry.add_version(gate="promoted") < pinned:
        pass
    result = promote("--env", "staging", "--version", str(pinned), "--repo", str(checkout))
    assert result.exit_code == 0, result.output
    assert "already pins" in result.output
    assert git(checkout, "branch", "--list").split() == ["*", "main"]


def test_push_sends_the_branch_to_the_remote(checkout, bare_remote, mlflow_registry):
    git(checkout, "remote", "add", "origin", str(bare_remote))
    version = mlflow_registry.add_version(gate="promoted")
    result = promote("--env", "dev", "--version", str(version), "--push", "--repo", str(checkout))
    assert result.exit_code == 0, result.output
    branch = f"promote/dev/fraud-v{version}"
    assert git(bare_remote, "rev-parse", branch) == git(checkout, "rev-parse", branch)


def test_rollback_command_uses_the_use_case_model(checkout, mlflow_registry):
    version = mlflow_registry.add_version(gate="promoted")
    assert promote("--env", "dev", "--version", str(version), "--branch", "work", "--repo",
                   str(checkout)).exit_code == 0
    result = CliRunner().invoke(app, ["rollback", "--env", "dev", "--branch", "work", "--repo", str(checkout)])
    assert result.exit_code == 0, result.output
    assert "Shipyard-Model: fraud" in git(checkout, "log", "-1", "--format=%B", "work")
    assert git(checkout, "diff", "main", "work").strip() == ""


def test_the_selected_use_cases_model_is_promoted_in_its_own_pin(checkout, mlflow_registry, monkeypatch):
    """A second use case (SHIPYARD_USE_CASE=delivery): the same command pins its model in its own file."""
    monkeypatch.setenv("SHIPYARD_USE_CASE", "delivery")
    mlflow_registry.model = "delivery"
    mlflow_registry.add_version(gate="promoted")  # version 1: what the generated pin starts with
    version = mlflow_registry.add_version(gate="promoted", reason="promoted: mae 4.1 <= 8")
    result = promote("--env", "staging", "--version", str(version), "--repo", str(checkout))
    assert result.exit_code == 0, result.output
    branch = f"promote/staging/delivery-v{version}"
    diff = git(checkout, "diff", "main", branch, "--numstat")
    assert diff.split() == ["1", "1", "manifests/overlays/staging/model-version-delivery.yaml"]
    assert gitops.read_version(checkout, "staging", "fraud") == gitops.read_version(checkout, "staging")
    rolled = CliRunner().invoke(app, ["rollback", "--env", "staging", "--branch", branch, "--repo", str(checkout)])
    assert rolled.exit_code == 0, rolled.output
    assert "model-version-delivery.yaml" in rolled.output
