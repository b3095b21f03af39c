"""Live: drifted traffic through the real predictor -> monitor -> Prometheus -> Alertmanager -> webhook
-> exactly one retraining run through the champion gate; every dashboard and alert query has data.

Runs on its own platform (retraining changes the registry), on free loopback ports, and stops every
process it starts. The drift-to-firing time is reported, not asserted (the budget is checked by
arithmetic in test_alert_latency_budget.py).
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
from tests.monitoring.tools import require_tool
from tests.platform_setup import prepare_platform
from usecases.fraud import USE_CASE

pytestmark = pytest.mark.integration
WINDOW = 1_000
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
        onset = time.time()
        replay_with_request_ids(f"http://127.0.0.1:{port}", events)
        stack.start()
        outcome = watch_drift_loop(stack, onset, timeout=300, wait_for_retraining=600)
        print(f"\nlive loop: {outcome.alert} firing {outcome.seconds_to_firing:.0f}s after drift onset; "
              f"retraining started at {outcome.seconds_to_retraining:.0f}s: {outcome.retraining_outcome}")

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
        aliases = {k: int(v) for k, v in registry.client(settings).get_registered_model("fraud").aliases.items()}
        assert aliases["challenger"] == 2
        # The champion moves only through the gate: to the challenger if it passed, else it stays.
        gate_passed = run["record"]["champion_version"] == 2
        assert aliases["champion"] == (2 if gate_passed else 1)
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
    assert all(b.process.poll() is not None for b in stack._binaries)
