"""GitOps fixtures: a real bare Git repository as the remote, and a real MLflow registry on SQLite.

The registry's versions are made with MLflow's public client (no training needed): each has a run
with metrics and the tags the champion gate records, so promotion is judged as it would be.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from shipyard.settings import Settings

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
MODEL = "fraud"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


@pytest.fixture()
def no_git_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user identity or global config: commits must work as they do in a pipeline pod."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


@pytest.fixture()
def checkout(tmp_path: Path, no_git_config) -> Path:
    """A working repository holding a copy of manifests/overlays on main."""
    root = tmp_path / "checkout"
    shutil.copytree(MANIFESTS / "overlays", root / "manifests" / "overlays")
    git(tmp_path, "init", "-q", "-b", "main", str(root))
    git(root, "add", ".")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "initial")
    return root


@pytest.fixture()
def bare_remote(tmp_path: Path, checkout: Path) -> Path:
    """A bare repository (the GitOps remote Argo CD would watch), cloned from ``checkout``."""
    remote = tmp_path / "gitops.git"
    git(tmp_path, "clone", "-q", "--bare", str(checkout), str(remote))
    return remote


@dataclass
class Registry:
    settings: Settings
    model: str = MODEL  # the registered model versions are added to

    def add_version(self, *, gate: str | None, roc_auc: float = 0.93, pr_auc: float = 0.61,
                    reason: str = "", pipeline_run: str = "shipyard-training-run-1") -> int:
        """A new version of the model with a run holding its metrics; ``gate`` is the decision recorded."""
        from shipyard import registry

        client = registry.client(self.settings)
        if not client.search_registered_models(f"name = '{self.model}'"):
            client.create_registered_model(self.model)
        experiment = registry.experiment_id(self.settings, f"{self.model}-training")
        run = client.create_run(experiment)
        client.log_metric(run.info.run_id, "roc_auc", roc_auc)
        client.log_metric(run.info.run_id, "pr_auc", pr_auc)
        client.log_metric(run.info.run_id, "segment.grocery.roc_auc", 0.5)  # not a headline metric
        client.set_terminated(run.info.run_id)
        version = client.create_model_version(self.model, f"{run.info.artifact_uri}/model", run.info.run_id,
                                              tags={"shipyard.pipeline_run": pipeline_run}).version
        if gate is not None:
            client.set_model_version_tag(self.model, version, "shipyard.gate.decision", gate)
            client.set_model_version_tag(self.model, version, "shipyard.gate", reason or f"{gate}: test reason")
        return int(version)

    def tags(self, version: int) -> dict[str, str]:
        from shipyard import registry

        return registry.client(self.settings).get_model_version(self.model, str(version)).tags


@pytest.fixture()
def mlflow_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    """A real MLflow registry on SQLite in this test's own SHIPYARD_HOME."""
    monkeypatch.setenv("SHIPYARD_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SHIPYARD_USE_CASE", "fraud")
    for name in ("SHIPYARD_PROFILE", "SHIPYARD_MLFLOW_TRACKING_URI", "SHIPYARD_MODEL_VERSION",
                 "SHIPYARD_MLFLOW_ARTIFACT_ROOT", "SHIPYARD_GITOPS_REMOTE"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env()
    settings.ensure_dirs()
    return Registry(settings)
