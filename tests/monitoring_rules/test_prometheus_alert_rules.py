"""Prometheus rules are tested like code: promtool check + unit tests, conventions, coverage."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

pytestmark = pytest.mark.unit

RUNBOOK_URL = "https://github.com/shipyard-mlops/shipyard/blob/main/monitoring/runbooks/{}.md"
SEVERITIES = {"critical", "warning", "info"}
TEAMS = {"ml", "platform"}
CATEGORIES = {"drift", "quality", "monitoring", "serving"}


def run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True)


def test_promtool_check_rules(promtool, repo_root):
    result = run([promtool, "check", "rules", "--lint=all", "--lint-fatal",
                  str(repo_root / "monitoring/prometheus/rules.yaml")])
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass(promtool, repo_root):
    files = sorted((repo_root / "monitoring/prometheus/tests").glob("*.yaml"))
    assert files
    result = run([promtool, "test", "rules", *map(str, files)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_check_demo_config(promtool, repo_root):
    result = run([promtool, "check", "config", str(repo_root / "monitoring/prometheus/prometheus.yml")])
    assert result.returncode == 0, result.stdout + result.stderr


def test_demo_config_scrapes_the_contract_jobs(repo_root):
    config = yaml.safe_load((repo_root / "monitoring/prometheus/prometheus.yml").read_text())
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
    assert targets == {"shipyard-predictor": ["127.0.0.1:8080"], "shipyard-monitor": ["127.0.0.1:9108"]}
    assert config["rule_files"] == ["rules.yaml"]  # relative: the config works from any checkout
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:9093"]


def test_alert_follows_conventions(alerts, alert_name, repo_root):
    rule = alerts[alert_name]
    assert re.fullmatch(r"Shipyard(?:[A-Z][a-z0-9]*)+", alert_name)
    assert rule.get("for"), "every alert needs a `for:`"
    assert rule["labels"]["severity"] in SEVERITIES
    assert rule["labels"]["team"] in TEAMS
    assert rule["labels"]["category"] in CATEGORIES
    annotations = rule["annotations"]
    assert annotations["summary"].strip()
    assert "{{" in annotations["description"], "description should show the templated value or labels"
    assert annotations["runbook_url"] == RUNBOOK_URL.format(alert_name)
    assert (repo_root / "monitoring/runbooks" / f"{alert_name}.md").is_file()


def test_recording_rule_names_follow_level_metric_operations(records, record_name, promql_metric_names):
    level, metric, operations = record_name.split(":")
    assert re.fullmatch(r"[a-z]+(?:_[a-z]+)*", level) and re.fullmatch(r"\w+", operations)
    # The metric part names what it is built from (suffixes like _total and _count dropped).
    sources = promql_metric_names(records[record_name]["expr"])
    assert any(source.startswith(metric.removesuffix("_5xx")) for source in sources), sources


def test_rules_query_only_contract_metrics(alerts, records, promql_metric_names, known_metrics):
    for name, rule in {**alerts, **records}.items():
        unknown = promql_metric_names(rule["expr"]) - known_metrics
        assert not unknown, f"{name} queries metrics outside docs/contract.md: {unknown}"


def unit_test_cases(repo_root, records) -> tuple[dict[str, set[bool]], dict[str, set[bool]]]:
    """Per alert and per recording rule: which outcomes the promtool tests expect (True = fires)."""
    alert_cases: dict[str, set[bool]] = {}
    record_cases: dict[str, set[bool]] = {}
    for path in (repo_root / "monitoring/prometheus/tests").glob("*.yaml"):
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                alert_cases.setdefault(check["alertname"], set()).add(bool(check.get("exp_alerts")))
            for check in case.get("promql_expr_test", []):
                for record in set(records) & set(re.findall(r"[\w:]+", check["expr"])):
                    record_cases.setdefault(record, set()).add(bool(check.get("exp_samples")))
    return alert_cases, record_cases


def test_every_alert_has_firing_and_quiet_unit_tests(repo_root, alerts, records, alert_name):
    alert_cases, _ = unit_test_cases(repo_root, records)
    assert alert_cases.get(alert_name) == {True, False}, "needs a case that fires and one that does not"


def test_every_recording_rule_has_unit_tests_with_and_without_samples(repo_root, records, record_name):
    _, record_cases = unit_test_cases(repo_root, records)
    assert record_cases.get(record_name) == {True, False}, "needs a case with samples and one without"


def test_unit_tests_only_name_existing_alerts(repo_root, alerts, records):
    alert_cases, _ = unit_test_cases(repo_root, records)
    assert set(alert_cases) <= set(alerts)


@pytest.mark.parametrize("broken_expr", ["vector(0) > 1", "vector(1)"], ids=["never-fires", "always-fires"])
def test_unit_tests_catch_a_broken_alert(promtool, repo_root, tmp_path, alert_name, broken_expr):
    """Each alert's promtool cases must fail when its expression never fires, or always fires."""
    assert_unit_tests_fail(promtool, repo_root, tmp_path, "alert", alert_name, broken_expr)


def test_unit_tests_catch_a_broken_recording_rule(promtool, repo_root, tmp_path, record_name):
    assert_unit_tests_fail(promtool, repo_root, tmp_path, "record", record_name, "vector(1)")


def assert_unit_tests_fail(promtool, repo_root, tmp_path, kind, name, broken_expr):
    rules = yaml.safe_load((repo_root / "monitoring/prometheus/rules.yaml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get(kind) == name:
                rule["expr"] = broken_expr
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    # The test files name ../rules.yaml, so copies next to the broken rules pick those up; only
    # the files that mention the rule, to keep this quick.
    (tmp_path / "tests").mkdir()
    for path in (repo_root / "monitoring/prometheus/tests").glob("*.yaml"):
        if name in path.read_text():
            shutil.copy(path, tmp_path / "tests" / path.name)
    files = sorted((tmp_path / "tests").glob("*.yaml"))
    assert files, f"no promtool test mentions {name}"
    result = run([promtool, "test", "rules", *map(str, files)])
    assert result.returncode != 0, f"promtool tests still pass with {name} broken as {broken_expr!r}"
