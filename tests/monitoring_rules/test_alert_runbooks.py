"""Runbooks: one per alert, same sections, header agrees with the rule, PromQL that parses."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.unit

SECTIONS = ["## Meaning", "## Impact", "## How to check", "## Mitigation", "## Escalation"]
PROMQL_BLOCK = re.compile(r"```promql\n(.*?)```", re.S)
# Runbooks may also ask Prometheus about its own scrape state.
PROMETHEUS_BUILTINS = {"up"}


@pytest.fixture(scope="module")
def runbook_dir(repo_root):
    return repo_root / "monitoring/runbooks"


def test_runbook_has_sections_and_matching_header(runbook_dir, alerts, alert_name):
    text = (runbook_dir / f"{alert_name}.md").read_text()
    assert text.startswith(f"# {alert_name}\n")
    positions = [text.find(section) for section in SECTIONS]
    assert -1 not in positions and positions == sorted(positions), "sections missing or out of order"
    labels = alerts[alert_name]["labels"]
    header = f"Severity: {labels['severity']} · Team: {labels['team']} · Category: {labels['category']}"
    assert header in text


def test_no_runbook_without_an_alert(runbook_dir, alerts):
    pages = {path.stem for path in runbook_dir.glob("*.md")} - {"README"}
    assert pages == set(alerts)


def test_runbook_promql_is_valid_and_queries_known_metrics(runbook_dir, check_promql, promql_metric_names,
                                                            known_metrics):
    exprs = []
    for path in sorted(runbook_dir.glob("*.md")):
        for block in PROMQL_BLOCK.findall(path.read_text()):
            exprs += [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]
    assert exprs
    for expr in exprs:
        unknown = promql_metric_names(expr) - known_metrics - PROMETHEUS_BUILTINS
        assert not unknown, f"{expr!r} queries {unknown}"
    check_promql(exprs)
