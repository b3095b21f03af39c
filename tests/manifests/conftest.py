"""Fixtures for the GitOps tests: rendered overlays and the external tools they need.

Tools (kubectl, and kubernetes-validate/checkov in .venv-tools from `make tools-venv`) are looked
up here; a missing tool skips with the reason, except under CI=true, where it fails, so a CI run
can never pass by skipping. Helpers are fixtures, not an importable module, so any import mode works.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.conftest import fail_in_ci_else_skip

REPO_ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = REPO_ROOT / "manifests"
OVERLAYS = ("dev", "staging", "prod")
TOOLS_VENV = REPO_ROOT / ".venv-tools"


def _missing(what: str) -> None:
    reason = f"{what} (run `make tools-venv`; kubectl must be on PATH)"
    fail_in_ci_else_skip(reason)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        _missing("kubectl not found")
    return path


@pytest.fixture(scope="session")
def tools_python() -> Path:
    """A Python that has kubernetes-validate, jsonschema and checkov (.venv-tools)."""
    python = TOOLS_VENV / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import kubernetes_validate, jsonschema, checkov"],
                           capture_output=True) if python.exists() else None
    if probe is None or probe.returncode != 0:
        _missing(f"{TOOLS_VENV.name} with kubernetes-validate, jsonschema and checkov")
    return python


@pytest.fixture(scope="session")
def render(kubectl: str) -> Callable[[str], str]:
    """Render a kustomization (path relative to manifests/) with `kubectl kustomize`, cached."""
    cache: dict[str, str] = {}

    def _render(rel: str) -> str:
        if rel not in cache:
            done = subprocess.run([kubectl, "kustomize", str(MANIFESTS / rel)],
                                  capture_output=True, text=True, check=False)
            assert done.returncode == 0, f"kubectl kustomize {rel} failed:\n{done.stderr}"
            cache[rel] = done.stdout
        return cache[rel]

    return _render


@pytest.fixture(scope="session")
def rendered_docs(render: Callable[[str], str]) -> dict[str, list[dict]]:
    """overlay name -> its rendered objects."""
    return {env: [d for d in yaml.safe_load_all(render(f"overlays/{env}")) if d] for env in OVERLAYS}
