"""Grafana-managed drift alerts: valid provisioning that mirrors rules.yaml, the source of truth."""

from __future__ import annotations

import json

import pytest
import yaml

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def grafana_rules(repo_root) -> dict[str, dict]:
    rules = {}
    for path in sorted((repo_root / "monitoring/grafana/provisioning/alerting").glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        assert document["apiVersion"] == 1
        for group in document["groups"]:
            assert group["orgId"] == 1 and group["folder"] and group["interval"]
            for rule in group["rules"]:
                rules[rule["title"]] = rule
    return rules


@pytest.fixture(scope="module")
def datasource_uid(repo_root) -> str:
    provisioning = repo_root / "monitoring/grafana/provisioning/datasources/prometheus.yaml"
    (datasource,) = yaml.safe_load(provisioning.read_text())["datasources"]
    assert datasource["type"] == "prometheus"
    return datasource["uid"]


def query_a(rule: dict) -> dict:
    return next(query for query in rule["data"] if query["refId"] == "A")


def test_every_drift_alert_has_a_grafana_copy(grafana_rules, alerts):
    drift = {name for name, rule in alerts.items() if rule["labels"]["category"] == "drift"}
    assert drift and set(grafana_rules) == drift


def test_grafana_rule_mirrors_prometheus_rule(grafana_rules, alerts, datasource_uid):
    for title, rule in grafana_rules.items():
        source = alerts[title]
        query = query_a(rule)
        assert query["datasourceUid"] == datasource_uid
        assert query["model"]["expr"].split() == source["expr"].split(), title
        assert query["model"]["instant"] is True
        assert rule["for"] == source["for"] and rule["labels"] == source["labels"], title
        # Grafana calls the query's value $values.A.Value where Prometheus says $value.
        expected = {k: v.replace("$value", "$values.A.Value") for k, v in source["annotations"].items()}
        assert rule["annotations"] == expected, title


def test_grafana_rule_fires_when_query_returns_a_series(grafana_rules):
    for title, rule in grafana_rules.items():
        data = {query["refId"]: query for query in rule["data"]}
        assert rule["condition"] in data and len(data) == len(rule["data"]), title
        math, threshold = data["B"]["model"], data[rule["condition"]]["model"]
        assert data["B"]["datasourceUid"] == "__expr__" and math["type"] == "math"
        assert math["expression"] == "is_number($A) || is_nan($A) || is_inf($A)"
        assert threshold["type"] == "threshold" and threshold["expression"] == "B"
        assert threshold["conditions"][0]["evaluator"] == {"type": "gt", "params": [0]}
        assert rule["noDataState"] == "OK", "a missing drift job is ShipyardDriftJobAbsent's alert"
        assert rule["uid"] and len(rule["uid"]) <= 40


def test_grafana_rule_links_to_an_existing_panel(grafana_rules, repo_root):
    dashboards = {}
    for path in (repo_root / "monitoring/grafana/dashboards").glob("*.json"):
        dashboard = json.loads(path.read_text())
        dashboards[dashboard["uid"]] = {panel["id"] for panel in dashboard["panels"]}
    for title, rule in grafana_rules.items():
        assert rule["panelId"] in dashboards[rule["dashboardUid"]], title


def test_grafana_queries_are_valid_promql_on_known_metrics(grafana_rules, check_promql, promql_metric_names,
                                                           known_metrics):
    exprs = [query_a(rule)["model"]["expr"] for rule in grafana_rules.values()]
    for expr in exprs:
        assert not promql_metric_names(expr) - known_metrics, expr
    check_promql(exprs)
