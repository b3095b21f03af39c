"""Alertmanager: valid config, drift/quality alerts reach the monitor's webhook in time."""

from __future__ import annotations

import subprocess

import pytest
import yaml

pytestmark = pytest.mark.unit

MONITOR_WEBHOOK = "http://127.0.0.1:9108/hooks/alertmanager"
RETRAINING_CATEGORIES = {"drift", "quality"}
DEMO_BUDGET_SECONDS = 120  # drift onset to the monitor's webhook, in the demo stack


def seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return int(duration[:-1]) * units[duration[-1]]


@pytest.fixture(scope="module")
def config_path(repo_root):
    return repo_root / "monitoring/alertmanager/alertmanager.yml"


@pytest.fixture(scope="module")
def config(config_path):
    return yaml.safe_load(config_path.read_text())


def test_amtool_check_config(amtool, config_path):
    result = subprocess.run([amtool, "check-config", str(config_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_reaches_the_right_receiver(amtool, config_path, alerts, alert_name):
    labels = {**alerts[alert_name]["labels"], "alertname": alert_name, "model": "fraud", "version": "3"}
    expected = "shipyard-monitor" if labels["category"] in RETRAINING_CATEGORIES else "default"
    result = subprocess.run(
        [amtool, "config", "routes", "test", f"--config.file={config_path}", f"--verify.receivers={expected}",
         *(f"{key}={value}" for key, value in labels.items())],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_monitor_webhook_gets_resolved_notifications(config):
    receiver = next(r for r in config["receivers"] if r["name"] == "shipyard-monitor")
    (webhook,) = receiver["webhook_configs"]
    assert webhook["url"] == MONITOR_WEBHOOK
    assert webhook["send_resolved"] is True


def test_alerts_are_grouped_by_alertname_and_model(config):
    assert config["route"]["group_by"] == ["alertname", "model"]
    assert all("group_by" not in route for route in config["route"]["routes"])  # inherited


def test_drift_alerts_fit_the_demo_budget(config, alerts, repo_root):
    """for + Alertmanager group_wait + one scrape and two rule evaluations stay within 2 minutes."""
    prometheus = yaml.safe_load((repo_root / "monitoring/prometheus/prometheus.yml").read_text())["global"]
    drift_route = next(r for r in config["route"]["routes"] if "drift" in r["matchers"][0])
    pipeline = (seconds(prometheus["scrape_interval"]) + 2 * seconds(prometheus["evaluation_interval"])
                + seconds(drift_route["group_wait"]))
    drift_alerts = [rule for rule in alerts.values() if rule["labels"]["category"] == "drift"]
    assert drift_alerts
    for rule in drift_alerts:
        assert seconds(rule["for"]) + pipeline <= DEMO_BUDGET_SECONDS, rule["alert"]
