"""Grafana dashboards as code: valid structure, ${datasource} everywhere, only exported metrics."""

from __future__ import annotations

import json
import re

import pytest
import yaml

pytestmark = pytest.mark.unit

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
LABEL_VALUES = re.compile(r"label_values\((.+),\s*\w+\)")
TITLES = {"Shipyard model health", "Shipyard drift & quality"}


def load(path):
    return json.loads(path.read_text())


def queries(dashboard: dict) -> list[str]:
    """Every PromQL expression of a dashboard: panel targets and the template variables' queries."""
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            match = LABEL_VALUES.fullmatch(variable["definition"])
            assert match, f"variable {variable['name']}: expected label_values(<selector>, <label>)"
            exprs.append(match.group(1))
    return exprs


def test_the_two_dashboards_exist(repo_root):
    dashboards = [load(path) for path in (repo_root / "monitoring/grafana/dashboards").glob("*.json")]
    assert {d["title"] for d in dashboards} == TITLES
    assert len({d["uid"] for d in dashboards}) == len(dashboards)


def test_dashboard_structure(dashboard_path):
    dashboard = load(dashboard_path)
    assert dashboard["uid"] and dashboard["title"] and isinstance(dashboard["schemaVersion"], int)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["model"]["type"] == "query" and variables["model"]["datasource"] == DATASOURCE
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {ids}"
    for panel in dashboard["panels"]:
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], f"panel {panel['title']!r} has no queries"
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
            assert target["expr"].strip(), panel["title"]
        assert set(panel["gridPos"]) == {"x", "y", "w", "h"}


def test_dashboard_uses_its_model_variable(dashboard_path):
    for panel in load(dashboard_path)["panels"]:
        for target in panel["targets"]:
            assert 'model="$model"' in target["expr"], f"{panel['title']!r} ignores the model variable"


def test_dashboard_queries_only_exported_metrics(dashboard_path, promql_metric_names, known_metrics):
    for expr in queries(load(dashboard_path)):
        unknown = promql_metric_names(expr) - known_metrics
        assert not unknown, f"{expr!r} queries metrics outside the contract and rules.yaml: {unknown}"


def test_dashboard_queries_parse(dashboard_path, check_promql, grafana_promql):
    check_promql([grafana_promql(expr) for expr in queries(load(dashboard_path))])


def test_every_contract_metric_is_on_a_dashboard(repo_root, promql_metric_names):
    shown: set[str] = set()
    for path in (repo_root / "monitoring/grafana/dashboards").glob("*.json"):
        for expr in queries(load(path)):
            shown |= {re.sub(r"_(bucket|sum|count)$", "", name) for name in promql_metric_names(expr)}
    contract = yaml.safe_load((repo_root / "monitoring/prometheus/metrics.yaml").read_text())
    missing = {name for metrics in contract.values() for name in metrics} - shown
    assert not missing, f"not on any dashboard: {missing}"


def test_dashboard_provider_loads_json_files(repo_root):
    provider = yaml.safe_load((repo_root / "monitoring/grafana/provisioning/dashboards/shipyard.yaml").read_text())
    assert provider["apiVersion"] == 1
    (entry,) = provider["providers"]
    assert entry["type"] == "file" and entry["options"]["path"]
