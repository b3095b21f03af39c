"""The webhook's decisions: one retraining per incident, keys from the alert, 4xx for bad payloads.

The same rules against a real `shipyard monitor serve` process: tests/monitoring/test_webhook_live.py.
"""

import pytest
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient

from monitoring.exporter import DriftMetrics
from monitoring.http_app import build_app
from monitoring.webhook import RetrainingTrigger, WebhookPayloadError, decide, parse_payload

pytestmark = pytest.mark.unit


def alert(name="ShipyardFeatureDriftHigh", status="firing", category="drift", starts="2026-11-24T10:00:00Z",
          fingerprint="abc123", **labels):
    return {"status": status, "labels": {"alertname": name, "model": "fraud", "version": "1", "category": category,
                                         **labels},
            "annotations": {"summary": f"{name} summary"}, "startsAt": starts, "fingerprint": fingerprint}


def payload(*alerts):
    return {"version": "4", "status": "firing", "receiver": "shipyard-monitor", "alerts": list(alerts)}


class FakeClock:
    def __init__(self, now: float = 1_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def started():
    return []


@pytest.fixture
def trigger(tmp_path, started):
    clock = FakeClock()
    trigger = RetrainingTrigger(tmp_path / "ledger.json", lambda reason, key: started.append((reason, key)) or key,
                                model="fraud", cooldown_seconds=600, max_runs_per_hour=2, clock=clock)
    trigger.clock_ref = clock
    yield trigger
    trigger.close()


def test_one_incident_of_several_drift_alerts_starts_one_run(trigger, started):
    decisions = trigger.handle(payload(alert(), alert("ShipyardPredictionDriftHigh", fingerprint="def456")))
    trigger.wait(10)
    assert [d.action for d in decisions] == ["start", "cooldown"]
    assert len(started) == 1 and started[0][0].startswith("ShipyardFeatureDriftHigh: ")
    assert started[0][1] == decisions[0].idempotency_key
    assert "ShipyardFeatureDriftHigh" in started[0][1] and "abc123" in started[0][1]


def test_the_same_alert_resent_is_a_duplicate_even_after_the_cooldown(trigger, started, tmp_path):
    trigger.handle(payload(alert()))
    trigger.clock_ref.now += 10_000
    assert [d.action for d in trigger.handle(payload(alert()))] == ["duplicate"]
    trigger.wait(10)
    # A monitor restarted on the same ledger remembers the run.
    again = RetrainingTrigger(tmp_path / "ledger.json", lambda *a: pytest.fail("second run"), model="fraud",
                              clock=lambda: 99e9)
    assert [d.action for d in again.handle(payload(alert()))] == ["duplicate"]
    again.close()
    assert len(started) == 1
    assert trigger.runs()[0]["status"] == "finished"


def test_a_new_incident_after_the_cooldown_starts_a_new_run(trigger, started):
    trigger.handle(payload(alert()))
    trigger.clock_ref.now += 601
    assert [d.action for d in trigger.handle(payload(alert(starts="2026-11-24T12:00:00Z")))] == ["start"]
    trigger.wait(10)
    assert len(started) == 2 and started[0][1] != started[1][1]


def test_resolved_and_non_model_alerts_are_ignored():
    alerts = parse_payload(payload(alert(status="resolved"), alert("ShipyardServingLatencyHigh", category="serving"),
                                   alert("ShipyardModelRocAucLow", category="quality")))
    assert [d.action for d in decide(alerts, [], now=0.0, cooldown_seconds=60, model="fraud")] == [
        "ignored", "ignored", "start"]


def test_an_alert_for_another_model_is_refused_and_does_not_touch_the_served_models_cooldown():
    alerts = parse_payload(payload(alert(model="other"), alert(model=""), alert(fingerprint="f2")))
    decisions = decide(alerts, [], now=0.0, cooldown_seconds=60, model="fraud")
    assert [d.action for d in decisions] == ["wrong_model", "wrong_model", "start"]
    assert "retrains model 'fraud', not 'other'" in decisions[0].reason


def test_the_run_and_its_key_name_the_served_model_not_the_label():
    (decision,) = decide(parse_payload(payload(alert())), [], now=0.0, cooldown_seconds=60, model="fraud")
    assert decision.model == "fraud" and "-fraud-" in decision.idempotency_key
    ledger = [{"model": "fraud", "idempotency_key": "k", "started_at": 0.0}]
    (cooling,) = decide(parse_payload(payload(alert(fingerprint="new"))), ledger, now=30.0, cooldown_seconds=60,
                        model="fraud")
    assert cooling.action == "cooldown"


def test_runs_per_hour_are_capped_whatever_the_cooldown():
    ledger = [{"model": "fraud", "idempotency_key": f"k{i}", "started_at": t} for i, t in enumerate((100.0, 3000.0))]
    capped = decide(parse_payload(payload(alert())), ledger, now=3500.0, cooldown_seconds=0, model="fraud")
    assert [d.action for d in capped] == ["rate_limited"]
    # An hour after the first run one slot is free again, and only one.
    later = decide(parse_payload(payload(alert(), alert(fingerprint="b"))), ledger, now=3701.0, cooldown_seconds=0,
                   model="fraud")
    assert [d.action for d in later] == ["start", "rate_limited"]
    # Another model's runs do not count against this one.
    other = [{**run, "model": "other"} for run in ledger]
    assert decide(parse_payload(payload(alert())), other, now=3500.0, cooldown_seconds=0,
                  model="fraud")[0].action == "start"


def test_a_failed_run_is_recorded_and_does_not_stop_the_trigger(tmp_path):
    def explode(reason, key):
        raise RuntimeError("pipeline broke")

    trigger = RetrainingTrigger(tmp_path / "ledger.json", explode, model="fraud", cooldown_seconds=0)
    trigger.handle(payload(alert()))
    trigger.wait(10)
    trigger.close()
    (run,) = trigger.runs()
    assert run["status"] == "failed" and "pipeline broke" in run["outcome"]


@pytest.mark.parametrize(("body", "message"), [
    ([], "JSON object"),
    ({"alerts": "x"}, "'alerts' must be a list"),
    ({"alerts": [{"labels": {}}]}, "alerts[0].labels.alertname"),
    ({"alerts": [{"labels": {"alertname": "A"}, "status": "odd", "startsAt": "t"}]}, "alerts[0].status"),
    ({"alerts": [{"labels": {"alertname": "A"}, "status": "firing"}]}, "alerts[0].startsAt"),
])
def test_payload_errors_name_the_problem(body, message):
    with pytest.raises(WebhookPayloadError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_payload(body)


TOKEN = "s3cret-webhook-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def registry():
    return DriftMetrics().registry


@pytest.fixture
def client(trigger, tmp_path, registry):
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "drift-fraud-v1-20261124T100000.html").write_text("<html>report</html>")
    with TestClient(build_app(registry, trigger, tmp_path / "reports", TOKEN), raise_server_exceptions=False) as c:
        yield c


def refused(registry, reason):
    return registry.get_sample_value("shipyard_webhook_refused_total", {"model": "fraud", "reason": reason})


def test_http_webhook_answers_202_with_decisions_and_4xx_with_a_json_message(client, trigger, started, registry):
    hook = "/hooks/alertmanager"
    accepted = client.post(hook, json=payload(alert()), headers=AUTH)
    assert accepted.status_code == 202 and accepted.json()["decisions"][0]["action"] == "start"
    broken = client.post(hook, content=b"{not json", headers={"content-type": "application/json", **AUTH})
    assert broken.status_code == 400 and "not JSON" in broken.json()["error"]
    wrong = client.post(hook, json={"alerts": [{}]}, headers=AUTH)
    assert wrong.status_code == 400 and "alertname" in wrong.json()["error"]
    assert refused(registry, "bad_payload") == 2
    huge = client.post(hook, content=b" " * ((1 << 20) + 1), headers=AUTH)
    assert huge.status_code == 413 and "larger than" in huge.json()["error"]
    assert client.post("/elsewhere", json={}).status_code == 404
    assert client.put(hook, json={}).json()["error"].startswith("no such resource")
    trigger.wait(10)
    assert [r["status"] for r in client.get(hook, headers=AUTH).json()["runs"]] == ["finished"]
    assert len(started) == 1


def test_http_webhook_refuses_calls_without_the_token_and_counts_them(client, started, registry):
    hook = "/hooks/alertmanager"
    missing = client.post(hook, json=payload(alert()))
    assert missing.status_code == 401 and "Bearer" in missing.json()["error"]
    assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong = client.post(hook, json=payload(alert()), headers={"Authorization": f"Bearer {TOKEN}x"})
    assert wrong.status_code == 401 and "not the webhook's token" in wrong.json()["error"]
    basic = client.post(hook, json=payload(alert()), headers={"Authorization": f"Basic {TOKEN}"})
    assert basic.status_code == 401
    assert client.get(hook).status_code == 401  # the ledger too
    assert started == []
    assert (refused(registry, "missing_token"), refused(registry, "wrong_token")) == (3, 1)
    assert refused(registry, "wrong_model") == 0  # every reason is exported from the start


def test_http_webhook_without_a_configured_token_refuses_everything(trigger, tmp_path, started):
    with TestClient(build_app(CollectorRegistry(), trigger, tmp_path, None)) as client:
        for token in ("", "None", "null"):
            answer = client.post("/hooks/alertmanager", json=payload(alert()),
                                 headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 403 and "disabled" in answer.json()["error"]
    assert started == []


def test_http_counts_wrong_model_and_capped_decisions_as_refused(client, trigger, registry):
    hook = "/hooks/alertmanager"
    answer = client.post(hook, json=payload(alert(model="other")), headers=AUTH)
    assert answer.status_code == 202 and answer.json()["decisions"][0]["action"] == "wrong_model"
    assert refused(registry, "wrong_model") == 1
    assert trigger.runs() == []


def test_http_serves_metrics_and_reports_but_nothing_outside_the_reports(client):
    metrics = client.get("/metrics")
    assert "# HELP shipyard_drift_share" in metrics.text and "shipyard_webhook_refused_total" in metrics.text
    assert client.get("/reports/drift-fraud-v1-20261124T100000.html").text == "<html>report</html>"
    assert client.get("/reports/..%2Fledger.json").status_code == 404
    assert client.get("/reports/../ledger.json").status_code == 404
    assert client.get("/reports/missing.html").status_code == 404
    assert client.get("/-/healthy").json() == {"status": "ok"}
