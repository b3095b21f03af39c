"""The promote step in the training DAG: wired to the gate's decision, and its KFP adapter turning a
gate decision into a commit pushed to a real bare repository (component.python_func, real artifacts)."""

from __future__ import annotations

import pytest
import yaml
from kfp import compiler
from kfp.dsl import Markdown, Metrics

from components.promote_op import promote_op
from tests.gitops.conftest import MODEL, git

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("name", ["training"])
def test_the_promote_step_runs_after_the_gate_on_its_decision(tmp_path, name):
    import importlib

    pipeline = getattr(importlib.import_module(f"pipelines.{name}"), f"{name}_pipeline")
    compiler.Compiler().compile(pipeline, str(tmp_path / "p.yaml"))
    tasks = yaml.safe_load((tmp_path / "p.yaml").read_text())["root"]["dag"]["tasks"]
    promote = tasks["promote-op"]
    assert "gate-op" in promote["dependentTasks"]
    parameters = promote["inputs"]["parameters"]
    gate_output = {"producerTask": "gate-op", "outputParameterKey": "decision"}
    assert parameters["decision"]["taskOutputParameter"] == gate_output
    assert parameters["gate_reason"]["taskOutputParameter"] == {**gate_output, "outputParameterKey": "reason"}
    assert parameters["candidate_version"]["taskOutputParameter"]["producerTask"] == "register-op"
    assert promote["inputs"]["artifacts"]["metrics"]["taskOutputArtifact"]["producerTask"] == "evaluate-op"
    assert not promote.get("cachingOptions", {}).get("enableCache")


def run_adapter(tmp_path, version: int, decision: str) -> tuple[str, str]:
    metrics = Metrics(name="metrics", uri=str(tmp_path / "metrics"), metadata={"roc_auc": 0.9412, "pr_auc": 0.6234})
    commit = Markdown(name="commit", uri=str(tmp_path / f"commit-{version}.md"))
    state = promote_op.python_func(candidate_version=version, decision=decision,
                                   gate_reason="promoted: roc_auc 0.9412 >= threshold 0.8", metrics=metrics,
                                   pipeline_run="shipyard-retraining-7", env="dev", branch="", commit=commit)
    return state, (tmp_path / f"commit-{version}.md").read_text()


def test_gate_decision_to_a_commit_on_the_remote_through_the_adapter(mlflow_registry, bare_remote, tmp_path,
                                                                    monkeypatch):
    monkeypatch.setenv("SHIPYARD_GITOPS_REMOTE", str(bare_remote))
    version = mlflow_registry.add_version(gate="promoted")
    state, markdown = run_adapter(tmp_path, version, decision="promoted")
    branch = f"promote/dev/{MODEL}-v{version}"
    assert state == "pushed"
    sha = git(bare_remote, "rev-parse", branch).strip()
    assert sha in markdown and "roc_auc=0.9412" in markdown
    assert git(bare_remote, "diff", "--numstat", "main", branch).split() == [
        "1", "1", "manifests/overlays/dev/model-version.yaml"]
    message = git(bare_remote, "log", "-1", "--format=%B", branch)
    assert f"Version: {version}" in message and "Pipeline run: shipyard-retraining-7" in message

    rejected = mlflow_registry.add_version(gate="rejected")
    state, markdown = run_adapter(tmp_path, rejected, decision="rejected")
    assert state == "not promoted" and "nothing to commit" in markdown
    heads = git(bare_remote, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()
    assert sorted(heads) == sorted(["main", branch])
