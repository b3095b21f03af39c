"""checkov finds no failed Kubernetes check on the rendered manifests except the listed ones."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
SKIPS = yaml.safe_load((MANIFESTS / "checkov-skips.yaml").read_text())


def test_every_listed_skip_has_a_reason():
    assert SKIPS
    for check_id, entry in SKIPS.items():
        assert check_id.startswith("CKV"), check_id
        assert len(entry["reason"].split()) >= 8, f"{check_id}: give a real reason"


@pytest.fixture(scope="module")
def failed_checks(render, tools_python, tmp_path_factory) -> dict[str, set[str]]:
    """check id -> resources failing it, over every overlay and the Argo CD objects."""
    out = tmp_path_factory.mktemp("checkov")
    for target in ("overlays/dev", "overlays/staging", "overlays/prod", "argocd"):
        (out / f"{target.replace('/', '-')}.yaml").write_text(render(target))
    checkov = tools_python.parent / "checkov"
    # --skip-download: checkov would otherwise fetch guideline links from the network.
    done = subprocess.run([str(checkov), "-d", str(out), "--framework", "kubernetes", "--quiet",
                           "--compact", "--skip-download", "-o", "json"],
                          capture_output=True, text=True, check=False)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    reports = json.loads(done.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    assert sum(r["summary"]["passed"] for r in reports) > 100, "checkov checked almost nothing"
    failed: dict[str, set[str]] = {}
    for report in reports:
        for check in report["results"]["failed_checks"]:
            failed.setdefault(check["check_id"], set()).add(check["resource"])
    return failed


def test_checkov_fails_only_listed_checks(failed_checks):
    unlisted = {k: sorted(v) for k, v in failed_checks.items() if k not in SKIPS}
    assert unlisted == {}


def test_every_listed_skip_still_fails(failed_checks):
    # A skip that no longer fails is stale: delete it so the list says what is true.
    assert sorted(set(SKIPS) - set(failed_checks)) == []
