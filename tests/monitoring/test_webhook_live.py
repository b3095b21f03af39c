"""The retraining webhook of a real `shipyard monitor serve` process: token, served model, hourly cap.

The monitor runs on an empty home, so each retraining it starts fails at once (no events yet) and
is recorded in its ledger: what is tested is which calls start a run, not the run itself.
"""

from __future__ import annotations

import re
import signal

import httpx
import pytest

from shipyard_cli.processes import ServerProcess, free_port, http_ok

pytestmark = pytest.mark.integration
TOKEN = "webhook-token-for-the-live-test"


def firing(fingerprint: str, model: str = "fraud") -> dict:
    return {"version": "4", "status": "firing", "receiver": "shipyard-monitor", "alerts": [{
        "status": "firing", "startsAt": "2026-11-24T10:00:00Z", "fingerprint": fingerprint,
        "labels": {"alertname": "ShipyardFeatureDriftHigh", "model": model, "category": "drift"},
        "annotations": {"summary": "amount drifted"}}]}


@pytest.fixture
def monitor(shipyard_home, tmp_path):
    port = free_port()
    env = {"SHIPYARD_HOME": str(shipyard_home.home), "SHIPYARD_WEBHOOK_TOKEN": TOKEN}
    args = ["monitor", "serve", "--host", "127.0.0.1", "--port", str(port), "--interval", "3600",
            "--cooldown", "0", "--max-runs-per-hour", "2"]
    process = ServerProcess(args, tmp_path / "monitor.log", env)
    process.start_until(http_ok(f"http://127.0.0.1:{port}/-/healthy"), timeout=90)
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        # uvicorn shuts down gracefully on SIGTERM, then re-raises it: -SIGTERM, not a SIGKILL after the timeout.
        assert process.stop() in (0, -signal.SIGTERM), process.log_tail()


def refused_counts(base: str) -> dict[str, float]:
    text = httpx.get(f"{base}/metrics").text
    return {reason: float(value) for reason, value in
            re.findall(r'shipyard_webhook_refused_total\{model="fraud",reason="(\w+)"\} (\S+)', text)}


def test_the_webhook_of_a_live_monitor_needs_its_token_and_starts_runs_only_for_its_model(monitor):
    base, process = monitor
    hook = f"{base}/hooks/alertmanager"
    auth = {"Authorization": f"Bearer {TOKEN}"}

    missing = httpx.post(hook, json=firing("a"))
    assert missing.status_code == 401 and missing.headers["content-type"] == "application/json"
    assert "Bearer" in missing.json()["error"]
    wrong = httpx.post(hook, json=firing("a"), headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401 and "not the webhook's token" in wrong.json()["error"]
    assert httpx.get(hook).status_code == 401

    other = httpx.post(hook, json=firing("a", model="someone-elses-model"), headers=auth)
    assert other.status_code == 202 and other.json()["decisions"][0]["action"] == "wrong_model"
    assert httpx.get(hook, headers=auth).json()["runs"] == []  # no run

    # Cooldown 0, cap 2 per hour: two distinct incidents start runs, the third is refused.
    actions = [httpx.post(hook, json=firing(f"incident-{i}"), headers=auth).json()["decisions"][0]["action"]
               for i in range(3)]
    assert actions == ["start", "start", "rate_limited"]
    runs = httpx.get(hook, headers=auth).json()["runs"]
    assert len(runs) == 2 and {run["model"] for run in runs} == {"fraud"}

    assert refused_counts(base) == {"missing_token": 2, "wrong_token": 1, "webhook_disabled": 0,
                                    "body_too_large": 0, "bad_payload": 0, "wrong_model": 1, "rate_limited": 1}
    log = process.log_path.read_text()
    assert log.count("webhook refused a call") == 5
    assert TOKEN not in log
