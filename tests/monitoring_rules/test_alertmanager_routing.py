"""Alertmanager: valid config, drift/quality alerts reach the monitor's webhook with its token.

The time budget: tests/monitoring/test_alert_latency_budget.py (configs) and test_alert_loop_live.py (measured).
"""

from __future__ import annotations

import subprocess

import pytest
import yaml

pytestmark = pytest.mark.unit

MONITOR_WEBHOOK = "http://127.0.0.1:9108/hooks/alertmanager"
RETRAINING_CATEGORIES = {"drift", "quality"}


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


def test_monitor_webhook_sends_the_bearer_token_from_a_file_never_inline(config):
    receiver = next(r for r in config["receivers"] if r["name"] == "shipyard-monitor")
    (webhook,) = receiver["webhook_configs"]
    authorization = webhook["http_config"]["authorization"]
    assert authorization["type"] == "Bearer"
    assert authorization["credentials_file"].endswith("/shipyard-webhook-token/token")
    assert "credentials" not in authorization  # a secret in a config file in Git would not be one


def test_alerts_are_grouped_by_alertname_and_model(config):
    assert config["route"]["group_by"] == ["alertname", "model"]
    assert all("group_by" not in route for route in config["route"]["routes"])  # inherited
