"""The webhook's decisions: one retraining per incident, keys from the alert, 4xx for bad payloads."""

import json
import threading
from http.server import ThreadingHTTPServer

import httpx
import pytest

from monitoring.exporter import DriftMetrics
from monitoring.service import make_handler
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
                                cooldown_seconds=600, clock=clock)
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
    again = RetrainingTrigger(tmp_path / "ledger.json", lambda *a: pytest.fail("second run"), clock=lambda: 99e9)
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
    assert [d.action for d in decide(alerts, [], now=0.0, cooldown_seconds=60)] == ["ignored", "ignored", "start"]


def test_a_failed_run_is_recorded_and_does_not_stop_the_trigger(tmp_path):
    def explode(reason, key):
        raise RuntimeError("pipeline broke")

    trigger = RetrainingTrigger(tmp_path / "ledger.json", explode, cooldown_seconds=0)
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


@pytest.fixture
def http_monitor(trigger, tmp_path):
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "drift-fraud-v1-20261124T100000.html").write_text("<html>report</html>")
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(DriftMetrics(), trigger, tmp_path / "reports"))
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_http_webhook_answers_202_with_decisions_and_4xx_with_a_json_message(http_monitor, trigger, started):
    hook = f"{http_monitor}/hooks/alertmanager"
    accepted = httpx.post(hook, json=payload(alert()))
    assert accepted.status_code == 202 and accepted.json()["decisions"][0]["action"] == "start"
    broken = httpx.post(hook, content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 400 and "not JSON" in broken.json()["error"]
    wrong = httpx.post(hook, json={"alerts": [{}]})
    assert wrong.status_code == 400 and "alertname" in wrong.json()["error"]
    assert httpx.post(f"{http_monitor}/elsewhere", json={}).status_code == 404
    trigger.wait(10)
    assert [r["status"] for r in httpx.get(hook).json()["runs"]] == ["finished"]
    assert len(started) == 1


def test_http_serves_metrics_and_reports_but_nothing_outside_the_reports(http_monitor):
    assert "# HELP shipyard_drift_share" in httpx.get(f"{http_monitor}/metrics").text
    assert httpx.get(f"{http_monitor}/reports/drift-fraud-v1-20261124T100000.html").text == "<html>report</html>"
    assert httpx.get(f"{http_monitor}/reports/..%2Fledger.json").status_code == 404
    assert httpx.get(f"{http_monitor}/reports/missing.html").status_code == 404
    assert json.loads(httpx.get(f"{http_monitor}/-/healthy").text) == {"status": "ok"}
