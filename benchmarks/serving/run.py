"""`make bench-serving`: Shipyard against the servers a user would pick instead, on this machine.

    .venv/bin/python benchmarks/serving/run.py [--seconds 10] [--out benchmarks/serving/results.md]

One run, one worker per server pinned to CPU 0 (Shipyard's Redis too), the load generator on CPU 1. Closed loops
at 1 and 8 connections (wrk), then an open loop at 200 req/s (asyncio, latency from the scheduled
send time). State lives under build/bench-serving/ (git-ignored).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import loadgen
import lookup_bench
import prepare
import report
import servers

from shipyard_cli.processes import ServerProcess, free_port, start_mlflow_server, start_redis, unwind_on_sigterm
from shipyard_cli.prod_demo import temporary_database

ROOT = Path(__file__).resolve().parents[2]
BODIES = 500  # distinct requests (customers) cycled through


def measure(server: ServerProcess, url: str, bodies: list[bytes], seconds: int,
            also: tuple[int, ...] = ()) -> dict[str, loadgen.Result]:
    """Each load pattern in turn; CPU is the server's process tree plus ``also`` (Shipyard's Redis)."""
    def cpu() -> float:
        return sum(loadgen.process_tree_cpu_seconds(pid) for pid in (server.pid, *also))

    loadgen.closed_loop(url, bodies, 8, 2)  # warm-up (caches, lazy imports, connection pools)
    results = {}
    for name, run in (("closed, 1 connection", lambda: loadgen.closed_loop(url, bodies, 1, seconds)),
                      ("closed, 8 connections", lambda: loadgen.closed_loop(url, bodies, 8, seconds)),
                      ("open, 200 req/s", lambda: loadgen.open_loop(url, bodies, 200, seconds))):
        before, load = cpu(), os.getloadavg()[0]
        result = run()
        result.load_average = load
        result.cpu_seconds = cpu() - before
        results[name] = result
        print(f"  {name}: {result.rps:.0f} req/s, p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms, "
              f"{result.errors} errors", flush=True)
    return results


def run_shipyard(settings, work: Path, rows: list[dict], columns: list[str], seconds: int,
                 redis_cpu: str, registry_uri: str) -> tuple[dict, dict[str, float]]:
    redis_port = free_port()
    redis = start_redis(redis_port, work / "redis" / "redis.log")
    os.sched_setaffinity(redis.pid, {int(redis_cpu)})
    try:
        redis_settings = prepare.materialize_to_redis(settings, f"redis://127.0.0.1:{redis_port}/0", registry_uri)
        os.sched_setaffinity(0, {int(servers.SERVER_CPU)})  # the reader measures where the server would run
        reads = lookup_bench.one_entity_reads(redis_settings, [row["customer_id"] for row in rows])
        for name, micros in reads.items():
            print(f"  {name}: {micros:.0f} us", flush=True)
        mlflow_port = free_port()
        mlflow = start_mlflow_server(mlflow_port, settings.mlflow_tracking_uri, work / "mlflow.log")
        port = free_port()
        env = {"SHIPYARD_PROFILE": "prod", "SHIPYARD_HOME": str(settings.home),
               "SHIPYARD_MLFLOW_TRACKING_URI": f"http://127.0.0.1:{mlflow_port}",
               "SHIPYARD_REDIS_URL": redis_settings.redis_url, "SHIPYARD_FEAST_PROJECT": prepare.BENCH_PROJECT,
               "SHIPYARD_FEAST_REGISTRY_URI": registry_uri, "SHIPYARD_PREDICTION_LOG_DIR": str(work / "predictions")}
        command = servers.pinned([str(ROOT / ".venv" / "bin" / "shipyard"), "serve", "--port", str(port)])
        try:
            server = servers.start(command, port, "/v2/models/fraud/ready", work / "shipyard.log", env)
        finally:
            mlflow.stop()  # only needed to resolve and load the model
        try:
            bodies = [servers.shipyard_body(row, columns) for row in rows]
            results = measure(server, f"http://127.0.0.1:{port}/v1/models/fraud:predict", bodies, seconds,
                              also=(redis.pid,))
            reads["Shipyard server, mean lookup over the whole run (its histogram)"] = \
                lookup_bench.server_mean_lookup_us(f"http://127.0.0.1:{port}/metrics")
            return results, reads
        finally:
            server.stop()
    finally:
        redis.stop()


def main() -> None:
    unwind_on_sigterm()  # `kill` stops the servers too
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.md"))
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "bench-serving",
                        help="state folder; a trained home in WORK/home is reused")
    parser.add_argument("--only", default="", help="run only the servers whose name contains this text")
    # Redis beside the server: while the server waits for a reply, Redis has the core; beside the load
    # generator it competes with it (measured here: ~25% less throughput).
    parser.add_argument("--redis-cpu", default=servers.SERVER_CPU, help="CPU Redis is pinned to")
    args = parser.parse_args()
    work = args.work.resolve()
    settings = prepare.trained_settings(work / "home")
    skops_path, mlserver_dir, columns = prepare.export_model(settings, work / "models")
    rows = prepare.feature_rows(settings, BODIES)
    load_before = os.getloadavg()
    results = {}
    print(report.SHIPYARD, flush=True)
    with temporary_database() as registry_uri:  # Feast's SQL registry, as the prod profile requires
        results[report.SHIPYARD], reads = run_shipyard(settings, work, rows, columns, args.seconds,
                                                      args.redis_cpu, registry_uri)
    from shipyard import registry

    model_uri = registry.model_uri("fraud", registry.resolve_version(settings, "fraud"))
    for peer in servers.peers(skops_path, mlserver_dir, ROOT / ".venv-bench" / "bin", model_uri,
                              settings.mlflow_tracking_uri):
        if args.only.lower() not in peer.name.lower():
            continue
        print(peer.name, flush=True)
        port = free_port()
        server = servers.start(peer.command(port), port, peer.ready_path, work / f"{port}.log", peer.env(port))
        try:
            bodies = [peer.body(row, columns) for row in rows]
            results[peer.name] = measure(server, f"http://127.0.0.1:{port}{peer.path}", bodies, args.seconds)
        finally:
            server.stop()
        time.sleep(1)
    args.out.write_text(report.render(results, reads, load_before, os.getloadavg()))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
