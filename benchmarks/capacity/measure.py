"""Measure what the capacity model needs: predictor throughput per core and latency under open load.

    .venv/bin/python -m benchmarks.capacity.measure [--seconds 10] [--out benchmarks/capacity/measurements.json]

Reuses the serving benchmark's platform and load generators (benchmarks/serving). The predictor is
`shipyard serve` (one worker per process, as in a pod) over a private Redis:

- 1 worker: one server on CPU 0, wrk (8 connections) on CPU 1;
- 2 workers: two servers, on CPU 0 and CPU 1, each driven by its own wrk (4 connections); the load
  generators share the cores with them, so req/s understates; CPU per request does not.
- open loop: one worker at fixed rates (a share of its measured capacity), p99 from the scheduled
  send time (no coordinated omission).

Per-core throughput is 1000 / (server CPU ms per request): the server's own CPU, not Redis's (in a
cluster Redis is another service). The results go to a small JSON file that the capacity model
(benchmarks/capacity/model.py) reads, so regenerating the overlay never needs a new measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks" / "serving"))  # the serving benchmark's modules, used as they are

import loadgen  # noqa: E402
import prepare  # noqa: E402
import servers  # noqa: E402

from shipyard_cli.processes import (  # noqa: E402
    ServerProcess,
    free_port,
    http_ok,
    start_mlflow_server,
    start_redis,
    unwind_on_sigterm,
)
from shipyard_cli.prod_demo import temporary_database  # noqa: E402

OPEN_LOOP_SHARES = (0.3, 0.5, 0.7, 0.85)  # of one worker's measured capacity
BODIES = 500
START_TIMEOUT = 600  # the predictors start slowly on a busy machine


def start_predictors(settings, redis_settings, registry_uri: str, work: Path, cpus: list[str]) -> list:
    """One predictor per CPU in ``cpus``; MLflow runs only while they load their model."""
    mlflow_port = free_port()
    mlflow = start_mlflow_server(mlflow_port, settings.mlflow_tracking_uri, work / "mlflow.log")
    started = []
    try:
        for cpu in cpus:
            port = free_port()
            env = {"SHIPYARD_PROFILE": "prod", "SHIPYARD_HOME": str(settings.home),
                   "SHIPYARD_MLFLOW_TRACKING_URI": f"http://127.0.0.1:{mlflow_port}",
                   "SHIPYARD_REDIS_URL": redis_settings.redis_url, "SHIPYARD_FEAST_PROJECT": prepare.BENCH_PROJECT,
                   "SHIPYARD_FEAST_REGISTRY_URI": registry_uri,
                   "SHIPYARD_PREDICTION_LOG_DIR": str(work / f"predictions-{port}")}
            command = ["taskset", "-c", cpu, str(ROOT / ".venv" / "bin" / "shipyard"), "serve", "--port", str(port)]
            server = ServerProcess([], work / f"shipyard-{port}.log", env=env, program=command).start_until(
                http_ok(f"http://127.0.0.1:{port}/v2/models/fraud/ready"), timeout=START_TIMEOUT)
            started.append((server, f"http://127.0.0.1:{port}/v1/models/fraud:predict"))
    except Exception:
        for server, _ in started:
            server.stop()
        raise
    finally:
        mlflow.stop()  # only needed to resolve and load the model
    return started


def closed(started: list, bodies: list[bytes], connections: int, seconds: int) -> dict:
    """Every server driven at once by its own wrk; req/s summed, CPU per request from the servers only."""
    before = sum(loadgen.process_tree_cpu_seconds(s.pid) for s, _ in started)
    load = os.getloadavg()[0]
    results: list = [None] * len(started)

    def drive(index: int, url: str) -> None:
        results[index] = loadgen.closed_loop(url, bodies, connections, seconds)

    threads = [threading.Thread(target=drive, args=(i, url)) for i, (_, url) in enumerate(started)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cpu = sum(loadgen.process_tree_cpu_seconds(s.pid) for s, _ in started) - before
    requests = sum(r.requests for r in results)
    return {"workers": len(started), "connections_per_worker": connections, "seconds": seconds,
            "requests": requests, "rps": sum(r.rps for r in results), "errors": sum(r.errors for r in results),
            "p99_ms": max(r.p99_ms for r in results), "server_cpu_ms_per_request": 1000 * cpu / max(requests, 1),
            "load_average": load}


def open_loop_points(predictor, bodies: list[bytes], closed_one: dict, seconds: int) -> list[dict]:
    """One worker at fixed shares of its measured capacity: p99 and the CPU utilization it caused."""
    server, url = predictor
    capacity = 1000 / closed_one["server_cpu_ms_per_request"]
    points = []
    for share in OPEN_LOOP_SHARES:
        rate = round(share * capacity)
        load = os.getloadavg()[0]
        cpu_before = loadgen.process_tree_cpu_seconds(server.pid)
        result = loadgen.open_loop(url, bodies, rate, seconds)
        busy = loadgen.process_tree_cpu_seconds(server.pid) - cpu_before
        os.sched_setaffinity(0, set(range(os.cpu_count())))  # open_loop pinned this process
        points.append({"rate": rate, "share_of_capacity": share, "achieved_rps": result.rps,
                       "server_cpu_utilization": busy / result.seconds, "p50_ms": result.p50_ms,
                       "p99_ms": result.p99_ms, "errors": result.errors, "load_average": load})
        print(f"open loop {rate} req/s: p50 {result.p50_ms:.2f} ms p99 {result.p99_ms:.2f} ms", flush=True)
    return points


def main() -> None:
    unwind_on_sigterm()  # `kill` stops the servers too
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("measurements.json"))
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "bench-capacity")
    parser.add_argument("--nice", type=int, default=0,
                        help="scheduling priority of this run and everything it starts (servers, Redis, load "
                             "generators); on a shared machine -20 approximates dedicated cores (needs root)")
    args = parser.parse_args()
    os.setpriority(os.PRIO_PROCESS, 0, args.nice)
    work = args.work.resolve()
    settings = prepare.trained_settings(work / "home")
    rows = prepare.feature_rows(settings, BODIES)
    bodies = [servers.shipyard_body(row, []) for row in rows]
    redis_port = free_port()
    redis = start_redis(redis_port, work / "redis" / "redis.log")
    load_before = os.getloadavg()
    try:
        with temporary_database() as registry_uri:  # Feast's SQL registry, as the prod profile requires
            redis_settings = prepare.materialize_to_redis(settings, f"redis://127.0.0.1:{redis_port}/0",
                                                          registry_uri)
            # All three predictors start together (one MLflow start on a slow machine); idle ones cost nothing.
            predictors = start_predictors(settings, redis_settings, registry_uri, work, ["0", "0", "1"])
            try:
                measured = {}
                for _, url in predictors:
                    loadgen.closed_loop(url, bodies, 4, 2)  # warm-up
                for started in (predictors[:1], predictors[1:]):
                    measured[len(started)] = closed(started, bodies, 8 // len(started), args.seconds)
                    print(f"{len(started)} worker(s): {measured[len(started)]}", flush=True)
                open_points = open_loop_points(predictors[0], bodies, measured[1], args.seconds)
            finally:
                for server, _ in predictors:
                    server.stop()
    finally:
        redis.stop()
    args.out.write_text(json.dumps({
        "measured_at": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "cores": os.cpu_count(),
        "load_average_before": load_before, "load_average_after": os.getloadavg(), "nice": args.nice,
        "predictor": "shipyard serve (KServe ModelServer + fast path, ONNX model, Redis features), one worker",
        "closed_loop": [measured[1], measured[2]], "open_loop_one_worker": open_points,
    }, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
