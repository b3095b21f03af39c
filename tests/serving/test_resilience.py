"""The predictor under stress: its Redis stopped and restarted during traffic, SIGTERM during traffic."""

from __future__ import annotations

import shutil
import signal
import struct
import threading
import time
from pathlib import Path

import httpx
import orjson
import pytest

from components.serving.prediction_log import read_prediction_log
from shipyard_cli.processes import free_port, start_redis
from tests.serving.conftest import grpc_session, redis_platform_for, run_predictor, start_serve
from tests.serving.platforms import copy_platform, logged_when, new_project, require

pytestmark = pytest.mark.integration


GOOD = {"customer_id": 17, "amount": 42.5, "merchant_category": "grocery", "hour": 13}


class Traffic:
    """Clients sending requests until stopped; every outcome is recorded (status code or error name)."""

    def __init__(self, url: str, clients: int, instances: int = 1, follow_readiness: bool = False):
        self.url, self.clients, self.instances = url, clients, instances
        self.outcomes: list[tuple[str, int | str, float, float, dict]] = []  # id, outcome, sent, done, body
        self.stop = threading.Event()
        self.not_ready_at: float | None = None
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(clients)]
        if follow_readiness:
            self.threads.append(threading.Thread(target=self._follow_readiness, daemon=True))

    def _follow_readiness(self) -> None:
        """What a Kubernetes endpoint controller does: stop routing to a server once it is not ready."""
        with httpx.Client(timeout=2) as session:
            while not self.stop.is_set():
                try:
                    ready = session.get(f"{self.url}/v2/models/fraud/ready").status_code == 200
                except httpx.HTTPError:
                    ready = False
                if not ready:
                    self.not_ready_at = time.monotonic()
                    return
                time.sleep(0.1)

    def _run(self, client: int) -> None:
        body = {"instances": [{**GOOD, "customer_id": 17 + i % 50} for i in range(self.instances)]}
        with httpx.Client(timeout=10) as session:
            sequence = 0
            while not self.stop.is_set() and self.not_ready_at is None:
                request_id, sequence = f"c{client}-{sequence}", sequence + 1
                sent = time.monotonic()
                try:
                    response = session.post(f"{self.url}/v1/models/fraud:predict", json=body,
                                            headers={"x-request-id": request_id})
                    outcome, payload = response.status_code, response.json()
                except httpx.HTTPError as exc:  # refused or dropped: recorded, then this client stops
                    self.outcomes.append((request_id, type(exc).__name__, sent, time.monotonic(), {}))
                    return
                self.outcomes.append((request_id, outcome, sent, time.monotonic(), payload))

    def __enter__(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def wait_for(self, condition, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition(list(self.outcomes)):
            assert time.monotonic() < deadline, f"traffic never reached the expected state: {self.summary()}"
            time.sleep(0.05)

    def answered_ids(self) -> set[str]:
        return {request_id for request_id, outcome, *_ in self.outcomes if outcome == 200}

    def summary(self) -> dict:
        counts: dict = {}
        for _, outcome, *_ in self.outcomes:
            counts[outcome] = counts.get(outcome, 0) + 1
        return counts


def test_redis_stopped_and_restarted_gives_bounded_503s_and_recovers_by_itself(trained_home, prod_services,
                                                                                tmp_path: Path):
    require(shutil.which("redis-server") is not None, "redis-server is not installed")
    port = free_port()
    redis_log = tmp_path / "redis" / "redis.log"
    redis = start_redis(port, redis_log)
    server = None
    try:
        platform = redis_platform_for(trained_home, prod_services, tmp_path / "home", f"redis://127.0.0.1:{port}/0",
                                      new_project())
        server, url = run_predictor(platform, tmp_path)
        with Traffic(url, clients=2) as traffic:
            traffic.wait_for(lambda outcomes: sum(o[1] == 200 for o in outcomes) >= 20)
            redis.stop()  # SIGTERM: Redis saves its data and exits
            outage_started = len(traffic.outcomes)
            traffic.wait_for(lambda outcomes: sum(o[1] == 503 for o in outcomes[outage_started:]) >= 20)
            redis = start_redis(port, redis_log)  # same port, same data
            recovered_from = len(traffic.outcomes)
            traffic.wait_for(lambda outcomes: sum(o[1] == 200 for o in outcomes[recovered_from:]) >= 20)
        outcomes = traffic.outcomes
        # Bounded: every request was answered (no client timeout, no dropped connection), 200 or 503 only.
        assert {o[1] for o in outcomes} <= {200, 503}, traffic.summary()
        errors = {o[4]["error"] for o in outcomes if o[1] == 503}
        assert all(e.startswith("online feature store unavailable") for e in errors), errors
        assert server.process.poll() is None  # recovered without a restart
        answered = traffic.answered_ids()
        refused = {o[0] for o in outcomes if o[1] == 503}
        log = logged_when(platform.settings.prediction_log_dir,
                          lambda log: set(log["request_id"]) >= answered | refused)
        # Answered requests once each as predictions; the 503s as failed records with their inputs, no score.
        assert set(log.loc[log["status"] == 200, "request_id"]) == answered
        assert (log.groupby("request_id").size() == 1).all()
        failed = log[log["status"] != 200]
        assert set(failed["request_id"]) == refused and (failed["status"] == 503).all()
        assert failed["score"].isna().all() and failed["customer_id"].notna().all()
        assert failed["error"].str.startswith("online feature store unavailable").all()
        after = log[log["request_id"].isin({o[0] for o in outcomes[recovered_from:] if o[1] == 200})]
        assert not after["features_missing"].any()  # the restarted Redis serves the same features
        metrics = httpx.get(f"{url}/metrics").text
        line = next(m for m in metrics.splitlines() if m.startswith("shipyard_online_store_errors_total{"))
        # Counted per failed read: requests that arrive together share one read (coalescing.py).
        assert 'store="redis"' in line and 1 <= float(line.split()[-1]) <= len(refused)
    finally:
        if server is not None:
            server.stop()
        redis.stop()


def test_sigterm_drains_then_closes_without_cutting_a_request(trained_home, tmp_path: Path):
    """Clients that honour `Connection: close` and stop when readiness fails see no transport error."""
    platform = copy_platform(trained_home, tmp_path / "home")
    server, url = start_serve(platform, tmp_path / "serve.log", "--drain-seconds", "3")
    try:
        # Kept-alive connections from 6 clients, several requests in flight at any moment.
        with Traffic(url, clients=6, instances=200, follow_readiness=True) as traffic:
            traffic.wait_for(lambda outcomes: sum(o[1] == 200 for o in outcomes) >= 30)
            signalled = time.monotonic()
            server.signal(signal.SIGTERM)
            exit_code = server.process.wait(timeout=60)
    finally:
        server.stop()
    outcomes = traffic.outcomes
    assert exit_code == 0
    assert traffic.not_ready_at is not None and traffic.not_ready_at >= signalled
    # Every request was answered, none cut or refused: readiness turned first, the drain kept answering.
    assert all(o[1] == 200 for o in outcomes), traffic.summary()
    assert any(o[3] > signalled for o in outcomes), "nothing was answered after SIGTERM"
    log = read_prediction_log(platform.settings.prediction_log_dir)
    assert set(log["request_id"]) == traffic.answered_ids()
    assert (log.groupby("request_id").size() == 200).all()  # every instance of every answered request


def test_hung_redis_is_a_bounded_503_that_says_timeout(trained_home, prod_services, tmp_path: Path):
    """A Redis that accepts connections but never answers (SIGSTOP), then wakes up again (SIGCONT)."""
    require(shutil.which("redis-server") is not None, "redis-server is not installed")
    port = free_port()
    redis = start_redis(port, tmp_path / "redis" / "redis.log")
    server = None
    try:
        platform = redis_platform_for(trained_home, prod_services, tmp_path / "home", f"redis://127.0.0.1:{port}/0",
                                      new_project())
        grpc_port = free_port()
        server, url = start_serve(platform, tmp_path / "serve.log", "--grpc-port", str(grpc_port))
        body = {"instances": [GOOD]}
        assert httpx.post(f"{url}/v1/models/fraud:predict", json=body, timeout=10).status_code == 200
        redis.signal(signal.SIGSTOP)
        try:
            hung = [httpx.post(f"{url}/v1/models/fraud:predict", json=body, timeout=10) for _ in range(3)]
            # The binary tensor extension goes to KServe's own route (fast_path.py): its 503 is logged too.
            binary, headers = binary_v2_request("hung-binary", GOOD)
            hung.append(httpx.post(f"{url}/v2/models/fraud/infer", content=binary, headers=headers, timeout=10))
            over_grpc = grpc_session(f"127.0.0.1:{grpc_port}", [GOOD])
        finally:
            redis.signal(signal.SIGCONT)
        assert [r.status_code for r in hung] == [503] * 4
        assert all(r.json()["error"].startswith("online feature store unavailable: timeout") for r in hung), \
            [r.text for r in hung]
        # gRPC's name for a 503: UNAVAILABLE, which clients retry (KServe's interceptor alone gave UNKNOWN).
        assert over_grpc["status"] == "StatusCode.UNAVAILABLE", over_grpc
        assert "online feature store unavailable" in over_grpc["error"] and "timeout" in over_grpc["error"], over_grpc
        # Redis is awake again: the very next request is answered, inside the reader's one-second hold-off after
        # the timeout or not (resp_client.py; test_redis_auth.py holds it off for 30 s).
        after = httpx.post(f"{url}/v1/models/fraud:predict", json=body, timeout=10)
        assert after.status_code == 200, after.text
        server.stop()  # writes the prediction log
        server = None
        log = read_prediction_log(platform.settings.prediction_log_dir).set_index("request_id")
        # KServe's route recorded it as the fast path does: with its inputs, in the predictor's own words.
        record = log.loc["hung-binary"]
        assert (record["status"], record["customer_id"], record["merchant_category"]) == (503, 17, "grocery")
        assert record["error"].startswith("online feature store unavailable: timeout"), record["error"]
    finally:
        if server is not None:
            server.stop()
        redis.stop()


def binary_v2_request(request_id: str, row: dict) -> tuple[bytes, dict]:
    """``row`` as a v2 request in the binary tensor data extension (what tritonclient sends by default)."""
    parts = [("customer_id", "INT64", struct.pack("<q", row["customer_id"])),
             ("amount", "FP64", struct.pack("<d", row["amount"])),
             ("merchant_category", "BYTES", struct.pack("<I", len(row["merchant_category"]))
              + row["merchant_category"].encode()),
             ("hour", "INT64", struct.pack("<q", row["hour"]))]
    header = orjson.dumps({"id": request_id, "inputs": [
        {"name": n, "datatype": t, "shape": [1], "parameters": {"binary_data_size": len(d)}} for n, t, d in parts]})
    return header + b"".join(d for *_, d in parts), {"inference-header-content-length": str(len(header))}
