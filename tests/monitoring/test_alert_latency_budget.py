"""The configuration's worst case for drift onset -> firing alert -> webhook fits the 2-minute budget.

A guard on the configs (a longer `for:`, group_wait or monitor interval fails here at once), not a
measurement: test_alert_loop_live.py measures the real time against the same budget.

Worst case: the drift run starts just before the drifted traffic is logged (one monitor interval
lost), its gauges are scraped one scrape interval later, the rule sees them at the next evaluation,
stays pending for `for:`, fires at the evaluation after that, and Alertmanager waits `group_wait`.
"""

import re

import pytest
import yaml

from shipyard_cli.alert_stack import ALERTMANAGER_CONFIG, PROMETHEUS_CONFIG, RULES, MonitoringStack

pytestmark = pytest.mark.unit
BUDGET_SECONDS = 120
DRIFT_RUN_SECONDS = 10  # one drift run over a bounded sample (benchmarks/drift: ~1-3 s at any window)


def seconds(duration: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)([smh])", duration))


def drift_route_group_wait(config: dict) -> float:
    for route in config["route"].get("routes", []):
        if any("drift" in matcher for matcher in route.get("matchers", [])):
            return seconds(route.get("group_wait", config["route"].get("group_wait", "30s")))
    raise AssertionError("no Alertmanager route for category drift")


def test_drift_alerts_reach_the_webhook_within_the_budget():
    prometheus = yaml.safe_load(PROMETHEUS_CONFIG.read_text())["global"]
    scrape, evaluation = seconds(prometheus["scrape_interval"]), seconds(prometheus["evaluation_interval"])
    group_wait = drift_route_group_wait(yaml.safe_load(ALERTMANAGER_CONFIG.read_text()))
    monitor_interval = MonitoringStack.__dataclass_fields__["monitor_interval"].default
    drift_alerts = [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
                    if rule.get("labels", {}).get("category") == "drift"]
    assert len(drift_alerts) >= 3
    for rule in drift_alerts:
        worst = (monitor_interval + DRIFT_RUN_SECONDS + scrape + evaluation + seconds(rule["for"]) + evaluation
                 + group_wait)
        assert worst <= BUDGET_SECONDS, f"{rule['alert']}: {worst:.0f}s > {BUDGET_SECONDS}s"


def test_duration_parsing():
    assert seconds("1m30s") == 90 and seconds("5s") == 5 and seconds("2h") == 7200
