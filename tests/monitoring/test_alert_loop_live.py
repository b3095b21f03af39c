"""Live: drifted traffic through the real predictor -> monitor -> Prometheus -> Alertmanager -> webhook
-> exactly one retraining run through the champion gate; every dashboard and alert query has data.

Runs on its own platform (retraining changes the registry), on free loopback ports, and stops every
process it starts. The measured drift-onset-to-webhook time is held to the documented 2-minute budget
(test_alert_latency_budget.py checks that the configuration's worst case fits it) plus a stated
margin for a loaded machine.
"""

import json
import re
import time

import httpx
import pytest
import yaml

from shipyard import data, registry
from shipyard.settings import PROJECT_ROOT, Settings
from shipyard_cli.alert_stack import MonitoringStack
from shipyard_cli.drift_loop import watch_drift_loop
from shipyard_cli.processes import free_port, start_predictor
from tests.monitoring.logged_traffic import SEED
from tests.monitoring.test_alert_latency_budget import BUDGET_SECONDS
from tests.monitoring.tools import require_tool
from tests.platform_setup import prepare_platform
from usecases.fraud import USE_CASE

pytestmark = [pytest.mark.integration, pytest.mark.slow]
WINDOW = 1_000
# Two cores shared with other test processes slow the first drift run (Evidently's import, the
# reference snapshot) and Prometheus' start; 45 s on top of the budget, never more.
LOADED_MACHINE_MARGIN_SECONDS = 45
GATE_TOLERANCE = 0.01  # the training pipeline's default `tolerance`, which the retraining run uses
COMPARED = ("roc_auc", "pr_auc")
GRAFANA_VARS = {"$model": "fraud", "$version": ".*", "$feature": ".*", "$__rate_interval": "1m",
                "${datasource}": ""}


@pytest.fixture(scope="module")
def own_platform(tmp_path_factory) -> Settings:
    from pipelines.runs import run_training

    require_tool("prometheus")
    require_tool("prometheus-alertmanager", "alertmanager")
    home = tmp_path_factory.mktemp("live-loop") / "home"
    settings = Settings.from_env({"SHIPYARD_HOME": str(home)})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHIPYARD_HOME", str(home))
        patch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        patch.delenv("SHIPYARD_PREDICTION_LOG_DIR", raising=False)
        patch.delenv("SHIPYARD_MODEL_VERSION", raising=False)
        prepare_platform(settings, seed=SEED)
        assert run_training(settings, min_roc_auc=0.7, max_iter=100).promoted
        yield settings


def replay_with_request_ids(url: str, events) -> None:
    """The transaction id as x-request-id, so late labels join the prediction log."""
    fields = [f.name for f in USE_CASE.request_fields]
    with httpx.Client(timeout=10) as client:
        for transaction, instance in zip(events["transaction_id"], events[fields].to_dict("records"), strict=True):
            response = client.post(f"{url}/v1/models/fraud:predict", json={"instances": [instance]},
                                   headers={"x-request-id": transaction})
            assert response.status_code == 200, response.text


def panel_queries() -> list[str]:
    exprs = []
    for path in sorted((PROJECT_ROOT / "monitoring/grafana/dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            exprs += [target["expr"] for target in panel.get("targets", [])]
    return exprs


def alert_expressions() -> list[str]:
    rules = yaml.safe_load((PROJECT_ROOT / "monitoring/prometheus/rules.yaml").read_text())
    alerting = PROJECT_ROOT / "monitoring/grafana/provisioning/alerting/shipyard-drift.yaml"
    grafana = yaml.safe_load(alerting.read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"] if "alert" in r]
    exprs += [q["model"]["expr"] for g in grafana["groups"] for r in g["rules"] for q in r["data"]
              if "expr" in q["model"] and q["datasourceUid"] != "__expr__"]
    return exprs


def as_promql(expr: str) -> str:
    for name, value in GRAFANA_VARS.items():
        expr = expr.replace(name, value)
    return expr


def selected_series(expr: str) -> set[str]:
    """Metric and recording-rule names an expression reads."""
    names = set(re.findall(r"\b((?:shipyard_|model_version)[\w:]*)", expr))
    return {n for n in names if not n.endswith(("_bucket", "_count", "_sum"))} | \
        {n for n in names if n.endswith(("_bucket", "_count", "_sum"))}


def test_drift_fires_the_alert_and_the_webhook_starts_exactly_one_retraining(own_platform, tmp_path):
    settings = own_platform
    port = free_port()
    env = {"SHIPYARD_HOME": str(settings.home)}
    predictor = start_predictor(port, tmp_path / "serve.log", env)
    stack = MonitoringStack(settings, tmp_path / "stack", predictor_port=port, monitor_interval=5.0,
                            window_rows=WINDOW, cooldown_seconds=3600.0)
    try:
        events = USE_CASE.generate(WINDOW, SEED, "amount_inflation")
        events.to_parquet(data.events_path(settings, "amount_inflation"))  # the late-label feed
        replay_with_request_ids(f"http://127.0.0.1:{port}", events)
        stack.start()
        # Onset: the drifted traffic is in the log and the stack watches it (on a cluster the monitor
        # already runs; its start-up here is not part of the budget).
        onset = time.time()
        outcome = watch_drift_loop(stack, onset, timeout=300, wait_for_retraining=600)
        print(f"\nlive loop: {outcome.alert} firing {outcome.seconds_to_firing:.0f}s after drift onset; "
              f"retraining started at {outcome.seconds_to_retraining:.0f}s: {outcome.retraining_outcome}")
        limit = BUDGET_SECONDS + LOADED_MACHINE_MARGIN_SECONDS
        assert outcome.seconds_to_firing <= outcome.seconds_to_retraining <= limit, (
            f"drift onset -> webhook took {outcome.seconds_to_retraining:.0f}s (firing at "
            f"{outcome.seconds_to_firing:.0f}s); budget {BUDGET_SECONDS}s + {LOADED_MACHINE_MARGIN_SECONDS}s margin")

        firing = {a["labels"]["alertname"]: a for a in stack.alerts("firing")}
        assert firing["ShipyardFeatureDriftHigh"]["labels"]["feature"] == "amount"
        assert "ShipyardDatasetDriftHigh" not in firing
        runs = stack.retraining_runs()
        assert len(runs) == 1, runs  # several drift alerts, one incident, one run
        (run,) = runs
        assert run["status"] == "finished", run
        assert run["record"]["idempotency_key"] == run["idempotency_key"] == outcome.idempotency_key
        assert run["record"]["pipeline"] == "retraining"
        challenger = run["record"]["version"]
        assert challenger == 2
        client = registry.client(settings)
        aliases = {k: int(v) for k, v in client.get_registered_model("fraud").aliases.items()}
        assert aliases["challenger"] == 2
        # The gate's decision record on the challenger, and the registry doing what it says.
        gate = client.get_model_version("fraud", "2").tags
        assert gate["shipyard.gate.decision"] in ("promoted", "rejected"), gate
        assert gate["shipyard.gate.champion_before"] == "1"
        expected_champion = 2 if gate["shipyard.gate.decision"] == "promoted" else 1
        assert aliases["champion"] == run["record"]["champion_version"] == expected_champion, gate
        if expected_champion == 2:
            # A promotion must be earned on what the gate compared: not worse on any metric beyond the
            # tolerance, and better on at least one (an equal model is reported as equal, not promoted).
            candidate = run["record"]["metrics"]
            before = {name: float(gate[f"shipyard.gate.champion_{name}"]) for name in COMPARED}
            assert all(candidate[n] >= before[n] - GATE_TOLERANCE for n in COMPARED), (candidate, before)
            assert any(candidate[n] > before[n] + GATE_TOLERANCE for n in COMPARED), (
                f"the gate promoted v2 although it is not better than v1: {candidate} vs {before}")
        # TODO(issue 10): once retraining trains on the labelled post-drift window, state the exact
        # champion this scenario must end with (amount_inflation shifts an input, not the fraud
        # pattern, so the expected verdict is the gate's "equal, champion unchanged").
        # Feature and prediction drift fire together here; the run names whichever reached the webhook first.
        drift_alerts = {name for name, a in firing.items() if a["labels"].get("category") in ("drift", "quality")}
        assert run["record"]["gate"] and run["record"]["reason"].split(":")[0] in drift_alerts

        # Every dashboard panel and every alert reads series that exist in the live Prometheus.
        for expr in panel_queries():
            assert stack.query(as_promql(expr)), f"panel query without data: {expr}"
        for expr in alert_expressions():
            stack.query(as_promql(expr))  # evaluates without error
            for name in selected_series(expr):
                assert stack.query(name if ":" in name else f'{{__name__="{name}"}}'), f"{name} in {expr}"
    finally:
        stack.stop()
        predictor.stop()
    assert all(p.process.poll() is not None for p in stack.processes())
