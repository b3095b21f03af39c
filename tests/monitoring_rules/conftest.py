"""Shared fixtures for the alerting and dashboard tests: repository files, tools, PromQL names.

Helpers are fixtures (not an importable module) so the tests work in any pytest import mode.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.conftest import fail_in_ci_else_skip

REPO_ROOT = Path(__file__).resolve().parents[2]
PROM_DIR = REPO_ROOT / "monitoring" / "prometheus"
RULES_FILE = PROM_DIR / "rules.yaml"

# PromQL words that look like metric names but are not.
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
             "group_left", "group_right", "inf", "nan", "atan2"}
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_OFFSET = re.compile(r"\boffset\s+-?\w+")
# A whole identifier (not part of a number, a $variable or a longer name) not followed by "(".
_NAME = re.compile(r"(?<![\w:.$])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()")
_GRAFANA_VARS = re.compile(r"\$\{?(__rate_interval|__interval|__range)\}?")
_TEMPLATE_VARS = re.compile(r"\$\{?\w+\}?")


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (functions, labels and keywords removed)."""
    text = _STRINGS.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGES.sub("", text)
    text = _GROUPING.sub("", text)
    text = _OFFSET.sub("", text)
    return {name for name in _NAME.findall(text) if name.lower() not in _KEYWORDS}


def grafana_to_promql(expr: str) -> str:
    """Replace Grafana's variables so the expression is plain PromQL (for promtool)."""
    expr = _GRAFANA_VARS.sub("5m", expr)
    return _TEMPLATE_VARS.sub("x", expr)


def load_yaml(path: Path):
    return yaml.safe_load(path.read_text())


def rule_list() -> list[dict]:
    return [rule for group in load_yaml(RULES_FILE)["groups"] for rule in group["rules"]]


def alert_rules() -> dict[str, dict]:
    return {rule["alert"]: rule for rule in rule_list() if "alert" in rule}


def recording_rules() -> dict[str, dict]:
    return {rule["record"]: rule for rule in rule_list() if "record" in rule}


def contract_metrics() -> set[str]:
    """Series names the contract allows: counters/gauges as named, histograms with their suffixes."""
    names: set[str] = set()
    for metrics in load_yaml(PROM_DIR / "metrics.yaml").values():
        for name, spec in metrics.items():
            if spec["type"] == "histogram":
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
            else:
                names.add(name)
    return names


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test case per alert / recording rule / dashboard, named after it."""
    if "alert_name" in metafunc.fixturenames:
        metafunc.parametrize("alert_name", sorted(alert_rules()))
    if "record_name" in metafunc.fixturenames:
        metafunc.parametrize("record_name", sorted(recording_rules()))
    if "dashboard_path" in metafunc.fixturenames:
        paths = sorted((REPO_ROOT / "monitoring" / "grafana" / "dashboards").glob("*.json"))
        metafunc.parametrize("dashboard_path", paths, ids=[path.stem for path in paths])


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def alerts() -> dict[str, dict]:
    return alert_rules()


@pytest.fixture(scope="session")
def records() -> dict[str, dict]:
    return recording_rules()


@pytest.fixture(scope="session")
def known_metrics() -> set[str]:
    """What an alert, recording rule, dashboard or Grafana alert may query."""
    return contract_metrics() | set(recording_rules())


@pytest.fixture(scope="session")
def promql_metric_names() -> Callable[[str], set[str]]:
    return metric_names


@pytest.fixture(scope="session")
def grafana_promql() -> Callable[[str], str]:
    return grafana_to_promql


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} not found: run `make prometheus-tools` (Debian packages prometheus, prometheus-alertmanager)"
    fail_in_ci_else_skip(message)


@pytest.fixture(scope="session")
def promtool() -> str:
    return _tool("promtool")


@pytest.fixture(scope="session")
def amtool() -> str:
    return _tool("amtool")


@pytest.fixture(scope="session")
def check_promql(promtool: str, tmp_path_factory) -> Callable[[list[str]], None]:
    """Validate PromQL expressions with promtool, as recording rules in a throwaway file."""

    def check(exprs: list[str]) -> None:
        rules = [{"record": f"shipyard_check:expr_{i}:check", "expr": expr} for i, expr in enumerate(exprs)]
        path = tmp_path_factory.mktemp("promql") / "exprs.yaml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "check", "rules": rules}]}))
        result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr

    return check
