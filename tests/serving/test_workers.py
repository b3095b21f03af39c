"""`shipyard serve --workers 2`: KServe's two REST worker processes, each with the fast path, its own
prediction log files, and one /metrics that sums both and the parent's gRPC answers."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from components.serving.prediction_log import log_files, read_prediction_log
from shipyard_cli.processes import free_port
from tests.serving.conftest import grpc_repository_change, grpc_session, start_serve
from tests.serving.platforms import copy_platform
from tests.serving.test_serving import GOOD, v2_body

# Minutes: KServe replaces a worker that is slow to start on a busy machine (components/serving/README.md).
pytestmark = [pytest.mark.integration, pytest.mark.slow]

REQUESTS_PER_PROTOCOL = 60


def score(url: str, protocol: str, n: int) -> httpx.Response:
    """One request on a new connection (so the kernel hands connections to either worker)."""
    request_id = f"{protocol}-{n}"
    row = {**GOOD, "customer_id": 17 + n}
    if protocol == "v1":
        return httpx.post(f"{url}/v1/models/fraud:predict", json={"instances": [row]},
                          headers={"x-request-id": request_id}, timeout=30)
    return httpx.post(f"{url}/v2/models/fraud/infer", json={"id": request_id, **v2_body([row])},
                      headers={"x-request-id": request_id}, timeout=30)


def summed(metrics: str, protocol: str) -> float:
    """``shipyard_requests_total`` answered 200 on ``protocol``, over every series /metrics shows."""
    from prometheus_client.parser import text_string_to_metric_families

    return sum(sample.value for family in text_string_to_metric_families(metrics) for sample in family.samples
               if sample.name == "shipyard_requests_total" and sample.labels.get("code") == "200"
               and sample.labels.get("protocol") == protocol)


def workers_started(serve_log: Path, count: int, timeout: float = 300.0) -> set[str]:
    """The process ids of the workers that finished their start-up (model loaded), once ``count`` did.
    The server is ready when one worker is; the test needs both before it sends its traffic."""
    deadline = time.monotonic() + timeout
    while True:
        started = set(re.findall(r" (\d+) uvicorn\.error INFO:\s+Application startup complete", serve_log.read_text()))
        if len(started) >= count or time.monotonic() > deadline:
            return started
        time.sleep(1)


def worker_pids(log_dir: Path) -> set[str]:
    """The process ids in the log's file names (``<host>-<pid>-<seq>.parquet``)."""
    return {re.match(r".*-(\d+)-\d+\.parquet$", name).group(1) for name in log_files(log_dir)}


def test_two_workers_answer_v1_and_v2_and_log_every_request_once(trained_home, tmp_path_factory):
    home = tmp_path_factory.mktemp("workers") / "home"
    platform = copy_platform(trained_home, home)
    grpc_port = free_port()
    process, url = start_serve(platform, home / "serve.log", "--workers", "2", "--grpc-port", str(grpc_port))
    parent = str(process.pid)
    try:
        started = workers_started(home / "serve.log", 2)
        assert len(started) == 2, process.log_tail(40)
        jobs = [(p, n) for n in range(REQUESTS_PER_PROTOCOL) for p in ("v1", "v2")]
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda job: score(url, *job), jobs))
        for (protocol, n), answer in zip(jobs, answers, strict=True):
            assert answer.status_code == 200, (protocol, n, answer.text)
            assert answer.headers.get("x-shipyard-route") == "fast"  # each worker has the fast path
        # The gRPC server stays in the parent process (server.py): its answers are in the sum too. A repository
        # unload over gRPC would reach the parent's copy only: refused, as over REST (below).
        assert grpc_repository_change(f"127.0.0.1:{grpc_port}", "unload") == "FAILED_PRECONDITION"
        over_grpc = grpc_session(f"127.0.0.1:{grpc_port}", [GOOD])
        assert over_grpc["ready"] is True and len(over_grpc["scores"]) == 1, over_grpc
        metrics = httpx.get(f"{url}/metrics", timeout=10).text
        # The sum over both workers and the parent, whichever worker takes the scrape.
        assert summed(metrics, "v1") == REQUESTS_PER_PROTOCOL
        assert summed(metrics, "v2") == REQUESTS_PER_PROTOCOL
        assert summed(metrics, "grpc") == 1
        assert 'shipyard_model_info{' in metrics
        # A repository load or unload would reach one worker only: refused, and every worker stays ready.
        for change in ("unload", "load"):
            refused = httpx.post(f"{url}/v2/repository/models/fraud/{change}", timeout=10)
            assert refused.status_code == 409 and "one worker" in refused.json()["error"], refused.text
        assert all(httpx.get(f"{url}/v2/models/fraud/ready", timeout=10).status_code == 200 for _ in range(8))
    finally:
        code = process.stop()
    assert code == 0, process.log_tail()
    log_dir = platform.settings.prediction_log_dir
    log = read_prediction_log(log_dir)
    expected = {f"{p}-{n}" for p, n in jobs} | {"grpc-request"}  # the gRPC client's request id
    assert log["request_id"].is_unique, log["request_id"].value_counts().head()
    assert set(log["request_id"]) == expected
    assert sorted(log.groupby("protocol").size().items()) == [("grpc", 1), ("v1", REQUESTS_PER_PROTOCOL),
                                                              ("v2", REQUESTS_PER_PROTOCOL)]
    # Each process wrote only files of its own (the file name carries the process id): the workers, and the
    # parent for the gRPC answer. Which worker took which connection is the kernel's choice, so both
    # usually, but not necessarily, appear.
    assert parent in worker_pids(log_dir) and worker_pids(log_dir) <= started | {parent}, log_files(log_dir)
