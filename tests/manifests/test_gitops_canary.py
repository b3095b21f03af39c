"""Canary verdict: the decision rules, the Prometheus HTTP query (a fake server on 127.0.0.1), and
the end-to-end verdict commit in a temporary repository."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from shipyard import gitops

pytestmark = pytest.mark.unit

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
NAN = math.nan


def signals(requests=1000.0, errors=0.001, p95=0.020, drift=0.05) -> gitops.CanarySignals:
    return gitops.CanarySignals(requests, errors, p95, drift)


def test_healthy_canary_is_promoted():
    verdict = gitops.canary_verdict(signals(errors=0.002, p95=0.021), signals())
    assert verdict.decision == "promote"


def test_too_little_traffic_waits():
    assert gitops.canary_verdict(signals(requests=20), signals()).decision == "wait"
    assert gitops.canary_verdict(signals(requests=NAN), signals()).decision == "wait"


@pytest.mark.parametrize("canary, reason", [
    (signals(errors=0.05), "error rate"),
    (signals(p95=0.080), "p95 latency"),
    (signals(drift=0.40), "prediction drift"),
])
def test_worse_canary_is_rolled_back_with_the_reason(canary, reason):
    verdict = gitops.canary_verdict(canary, signals())
    assert verdict.decision == "rollback"
    assert any(reason in r for r in verdict.reasons)


def test_latency_noise_below_the_absolute_floor_is_not_a_regression():
    # 2 ms -> 3 ms is +50 % but only 1 ms: not worth a rollback.
    assert gitops.canary_verdict(signals(p95=0.003), signals(p95=0.002)).decision == "promote"


def test_missing_stable_data_is_judged_against_zero_baselines():
    stable = signals(errors=NAN, p95=NAN, drift=NAN)
    assert gitops.canary_verdict(signals(errors=0.005), stable).decision == "promote"
    assert gitops.canary_verdict(signals(errors=0.02), stable).decision == "rollback"


class _FakePrometheus(BaseHTTPRequestHandler):
    """Answers instant queries by metric name and `version` label; records what it was asked."""
    answers: dict[tuple[str, str], float] = {}
    seen: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server API)
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)["query"][0]
        self.seen.append(query)
        version = query.split('version="')[1].split('"')[0]
        metric = next(m for m in ("increase(", "code=~", "histogram_quantile", "drift") if m in query)
        value = self.answers.get((metric, version))
        result = [] if value is None else [{"metric": {}, "value": [1700000000, str(value)]}]
        body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture()
def prometheus():
    _FakePrometheus.answers, _FakePrometheus.seen = {}, []
    server = HTTPServer(("127.0.0.1", 0), _FakePrometheus)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", _FakePrometheus
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_query_canary_signals_reads_each_signal_for_one_version(prometheus):
    url, fake = prometheus
    fake.answers = {("increase(", "4"): 1234.0, ("code=~", "4"): 0.01,
                    ("histogram_quantile", "4"): 0.031}
    got = gitops.query_canary_signals(url, model="fraud", version=4, window="10m")
    assert (got.requests, got.error_rate, got.latency_p95_seconds) == (1234.0, 0.01, 0.031)
    assert math.isnan(got.prediction_drift)  # no series: NaN, not 0
    assert all('model="fraud",version="4"' in q and ("[10m]" in q or "drift" in q) for q in fake.seen)


def test_query_prometheus_raises_on_an_error_status(monkeypatch):
    class Response:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self, *args):
            return b'{"status": "error", "error": "parse error"}'

    monkeypatch.setattr(gitops.urllib.request, "urlopen", lambda url, timeout: Response())
    with pytest.raises(gitops.GitOpsError, match="parse error"):
        gitops.query_prometheus("http://prometheus:9090", "up")


def test_run_canary_verdict_commits_a_rollback_for_a_failing_canary(prometheus, tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "none"))
    repo = tmp_path / "repo"
    shutil.copytree(MANIFESTS / "overlays", repo / "manifests" / "overlays")
    for args in (["init", "-q", "-b", "main"], ["add", "."],
                 ["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "init"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)
    stable = gitops.read_version(repo, "prod")
    gitops.promote(repo, "prod", stable + 1, model="fraud", branch="canary-check")
    url, fake = prometheus
    fake.answers = {("increase(", str(stable + 1)): 5000.0, ("code=~", str(stable + 1)): 0.2,
                    ("increase(", str(stable)): 50000.0, ("code=~", str(stable)): 0.001}
    verdict, info = gitops.run_canary_verdict(repo, "prod", url, model="fraud", branch="canary-check")
    assert verdict.decision == "rollback"
    assert info is not None and info.new_value == stable
    assert gitops.version_history(repo, "prod", "canary-check")[-1] == stable
