"""`make bench-serving` (second part): server overhead apart from model speed, measured interleaved.

    .venv/bin/python benchmarks/serving/interleaved.py [--rounds 5] [--seconds 5] [--out ...interleaved.md]

Every server starts once and waits; each round then measures every server in turn (A B C ... A B C ...),
so a machine whose speed swings within minutes swings for all of them alike. Reported per row: the
median over rounds and the spread (min-max) of its throughput ratio to KServe's no-op with its
per-request logging off, measured in the same round, plus p50 and p99 at 1 connection (measured
after a pause that lets the 8-connection run's leftover work finish: ``SETTLE_SECONDS``), by wrk
and then by a blocking socket (``loadgen.one_connection``: wrk's own tail at one connection is of
the order of the 1 ms being checked; the bare ASGI row shows both clients' floors). For
Shipyard's rows also the server's own durations in each 1-connection run (server_latency.py): the
share answered within 1 ms and the bucket bound of p99, so a slow tail is placed in the server's
handler or around it (loopback, scheduling, the load generator).

Rows: Shipyard's fast path (Redis lookup, ONNX model, prediction log) with 1 worker and with 2
(``--workers 2``); Shipyard through KServe's own route (``--no-fast-path``, same work); KServe's no-op
with defaults and with latency logging and access log off; a KServe custom model serving the same ONNX
form from a request that carries the features. Every server is pinned to CPU 0 except Shipyard with 2
workers, which gets both CPUs (one worker per core) and so shares CPU 1 with the load generator: its
row says what a second worker buys on this 2-core machine, not what it would on a core of its own.

    --rounds 1 --seconds 1 --only Shipyard   a smoke run of the code path (tests/benchmarks runs it)
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import loadgen
import prepare
import server_latency
import servers

from shipyard_cli.processes import ServerProcess, free_port, start_mlflow_server, start_redis
from shipyard_cli.prod_demo import temporary_database

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BASELINE = "KServe no-op, logging off"


# Between a server's 8-connection run and its 1-connection run: the work a saturating run leaves behind
# (prediction log writes, garbage collection) is done before the steady state at one connection is
# measured, for every server alike.
SETTLE_SECONDS = 3
FAST = "Shipyard fast path"
KSERVE_ROUTE = "Shipyard via KServe's route"
TWO_WORKERS = "Shipyard fast path, 2 workers"
FLOOR = "bare ASGI app on uvicorn, constant answer (machine floor)"


@dataclass
class Running:
    name: str
    process: ServerProcess
    url: str
    bodies: list[bytes]
    base_url: str = ""  # Shipyard's: its /metrics has the server's own request durations (server_latency.py)


def pinned_to(cpus: str, args: list[str]) -> list[str]:
    return ["taskset", "-c", cpus, *args]


def wait_for_workers(process: ServerProcess, log: Path, count: int, timeout: float = 600.0) -> None:
    """Until ``count`` worker processes have finished their start-up (uvicorn's line, one per worker)."""
    deadline = time.monotonic() + timeout
    while len(set(re.findall(r" (\d+) uvicorn\.error INFO:\s+Application startup complete", log.read_text()))) < count:
        if time.monotonic() > deadline:
            process.stop()
            raise RuntimeError(f"{count} workers did not all start in {timeout:.0f} s; see {log}")
        time.sleep(1)


def start_all(settings, work: Path, rows: list[dict], columns: list[str], skops_path: Path, registry_uri: str,
              only: str = "") -> tuple[list, list]:
    """Every server of the comparison (whose name contains ``only``; the baseline always), started and
    ready; plus the helper processes to stop at the end."""
    redis_port = free_port()
    redis = start_redis(redis_port, work / "redis" / "redis.log")
    os.sched_setaffinity(redis.pid, {int(servers.SERVER_CPU)})
    helpers: list[ServerProcess] = [redis]
    redis_settings = prepare.materialize_to_redis(settings, f"redis://127.0.0.1:{redis_port}/0", registry_uri)
    mlflow_port = free_port()
    mlflow = start_mlflow_server(mlflow_port, settings.mlflow_tracking_uri, work / "mlflow.log")
    running: list[Running] = []
    try:
        env = {"SHIPYARD_PROFILE": "prod", "SHIPYARD_HOME": str(settings.home),
               "SHIPYARD_MLFLOW_TRACKING_URI": f"http://127.0.0.1:{mlflow_port}",
               "SHIPYARD_REDIS_URL": redis_settings.redis_url, "SHIPYARD_FEAST_PROJECT": prepare.BENCH_PROJECT,
               "SHIPYARD_FEAST_REGISTRY_URI": registry_uri, "SHIPYARD_PREDICTION_LOG_DIR": str(work / "predictions")}
        shipyard_bodies = [servers.shipyard_body(row, columns) for row in rows]
        feature_bodies = [servers.kserve_body(row, columns) for row in rows]
        shipyard = str(ROOT / ".venv" / "bin" / "shipyard")
        peer = [sys.executable, str(HERE / "peer_kserve.py")]
        one_core, both_cores = servers.SERVER_CPU, f"{servers.SERVER_CPU},{loadgen.LOADGEN_CPU}"
        plan = [
            (FAST, [shipyard, "serve"], env, shipyard_bodies, one_core),
            (TWO_WORKERS, [shipyard, "serve", "--workers", "2"], env, shipyard_bodies, both_cores),
            (KSERVE_ROUTE, [shipyard, "serve", "--no-fast-path"], env, shipyard_bodies, one_core),
            ("KServe no-op, defaults", [*peer, "--kind", "noop"], {"PYTHONPATH": str(ROOT)}, feature_bodies,
             one_core),
            (BASELINE, [*peer, "--kind", "noop", "--quiet"], {"PYTHONPATH": str(ROOT)}, feature_bodies, one_core),
            ("KServe custom model, same ONNX, features in the request",
             [*peer, "--kind", "onnx", "--quiet", "--model", str(skops_path)],
             {"PYTHONPATH": str(ROOT), **servers.ONE_THREAD}, feature_bodies, one_core),
            (FLOOR, [sys.executable, str(HERE / "peer_bare.py")], {}, feature_bodies, one_core),
        ]
        for name, command, extra_env, bodies, cpus in plan:
            if only.lower() not in name.lower() and name != BASELINE:
                continue
            port = free_port()
            port_flag = ["--port", str(port)] if command[0] == shipyard else ["--http_port", str(port)]
            ready = "/v2/models/fraud/ready" if command[0] == shipyard else "/v2/health/ready"  # bare: any path
            process = servers.start(pinned_to(cpus, [*command, *port_flag]), port, ready, work / f"{port}.log",
                                    extra_env)
            if "--workers" in command:  # ready means one worker is: wait for all of them
                wait_for_workers(process, work / f"{port}.log", int(command[command.index("--workers") + 1]))
            base_url = f"http://127.0.0.1:{port}"
            running.append(Running(name, process, f"{base_url}/v1/models/fraud:predict", bodies,
                                   base_url if command[0] == shipyard else ""))
            print(f"started {name}", flush=True)
    except BaseException:
        for server in running:
            server.process.stop()
        redis.stop()
        raise
    finally:
        mlflow.stop()  # only needed while Shipyard loads its model
    return running, helpers


def measure_rounds(running: list[Running], rounds: int, seconds: int) -> dict[str, list[dict]]:
    results: dict[str, list[dict]] = {server.name: [] for server in running}
    for server in running:
        loadgen.closed_loop(server.url, server.bodies, 8, 2)  # warm-up
    for round_number in range(rounds):
        order = running if round_number % 2 == 0 else list(reversed(running))  # A B C, then C B A
        for server in order:
            eight = loadgen.closed_loop(server.url, server.bodies, 8, seconds)
            time.sleep(SETTLE_SECONDS)
            before = server_latency.scrape(server.base_url) if server.base_url else None
            one = loadgen.closed_loop(server.url, server.bodies, 1, seconds)
            direct = loadgen.one_connection(server.url, server.bodies, seconds)
            inside = server_latency.scrape(server.base_url) - before if before is not None else None
            results[server.name].append({
                "rps8": eight.rps, "rps1": one.rps, "p50_1": one.p50_ms, "p99_1": one.p99_ms,
                "p50_1_direct": direct.p50_ms, "p99_1_direct": direct.p99_ms,
                "errors": eight.errors + one.errors + direct.errors, "load": os.getloadavg()[0],
                "within_1": inside.share_within(server_latency.WITHIN_SECONDS) if inside else None,
                "server_p99_bound": inside.quantile_bound(0.99) if inside else None})
            own = (f"; server's own: {100 * results[server.name][-1]['within_1']:.2f}% within 1 ms"
                   if inside else "")
            print(f"  round {round_number + 1} {server.name}: {eight.rps:.0f} req/s at 8, "
                  f"p50 {one.p50_ms:.2f} ms, p99 {one.p99_ms:.2f} ms at 1 (blocking client: "
                  f"p50 {direct.p50_ms:.2f} ms, p99 {direct.p99_ms:.2f} ms){own}", flush=True)
    return results


def render(results: dict[str, list[dict]], rounds: int, seconds: int, load_before, load_after) -> str:
    import report

    baseline = results[BASELINE]
    lines = [
        "# Serving overhead, interleaved", "",
        f"Machine: {report.cpu_model()}, {os.cpu_count()} CPUs; servers pinned to CPU {servers.SERVER_CPU} "
        f"({TWO_WORKERS!r}: both CPUs), "
        f"load generator (wrk) on CPU {loadgen.LOADGEN_CPU}. {rounds} rounds of {seconds} s per server and "
        f"load pattern, servers interleaved (A B C ... then reversed), {SETTLE_SECONDS} s idle between a server's "
        f"8- and 1-connection runs. Load average before "
        f"{load_before[0]:.2f}, after {load_after[0]:.2f}.", "",
        f"Ratio: throughput at 8 connections over {BASELINE!r} in the same round; median (min-max).", "",
        "At 1 connection two clients measure in turn: wrk, and one blocking socket (loadgen.one_connection: "
        "nothing between a request and its answer but `recv`). p50 and p99: median over rounds (min-max of p99).", "",
        "| server | req/s at 8 conn. (median) | ratio to no-op, logging off | p50 / p99 at 1 conn., wrk | "
        "p50 / p99 at 1 conn., blocking socket | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, runs in results.items():
        ratios = [run["rps8"] / base["rps8"] for run, base in zip(runs, baseline, strict=True)]
        lines.append(f"| {name} | {statistics.median(r['rps8'] for r in runs):.0f} | "
                     f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) | "
                     f"{at_one_connection(runs, '')} | {at_one_connection(runs, '_direct')} | "
                     f"{sum(r['errors'] for r in runs)} |")
    if FAST in results and KSERVE_ROUTE in results:
        lines += ["", f"{KSERVE_ROUTE!r} over {FAST!r}, same round, median (min-max): "
                      f"{spread(results, 'p50_1', lambda route, fast: route / fast)}x the p50 latency at 1 connection; "
                      f"{spread(results, 'rps8', lambda route, fast: fast / route)}x fewer requests per second at 8 "
                      "connections."]
    own = {name: runs for name, runs in results.items() if runs[0]["within_1"] is not None}
    if own:
        lines += ["", "The servers' own request durations over the same 1-connection runs, both clients (Shipyard's "
                      f"`{server_latency.METRIC}`, from the request's arrival in the fast-path middleware to "
                      "its answer: no loopback, no load generator), read from /metrics before and after each run:",
                  "", "| server | share within 1 ms (median; min-max) | p99 within (bucket bound), per round |",
                  "|---|---:|---|"]
        for name, runs in own.items():
            shares = [100 * run["within_1"] for run in runs]
            bounds = ", ".join(f"{1000 * run['server_p99_bound']:g} ms" for run in runs)
            lines.append(f"| {name} | {statistics.median(shares):.2f}% ({min(shares):.2f}-{max(shares):.2f}%) | "
                         f"{bounds} |")
    return "\n".join(lines) + "\n"


def at_one_connection(runs: list[dict], client: str) -> str:
    p99 = [run[f"p99_1{client}"] for run in runs]
    return (f"{statistics.median(run[f'p50_1{client}'] for run in runs):.2f} / {statistics.median(p99):.2f} ms "
            f"({min(p99):.2f}-{max(p99):.2f})")


def spread(results: dict[str, list[dict]], key: str, ratio) -> str:
    """``ratio(KServe's route, fast path)`` of ``key`` per round: median (min-max)."""
    values = [ratio(route[key], fast[key]) for route, fast in zip(results[KSERVE_ROUTE], results[FAST], strict=True)]
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "results-interleaved.md")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "bench-serving")
    parser.add_argument("--only", default="", help="only the servers whose name contains this text (and the "
                                                   "baseline): a quicker run, e.g. a smoke test")
    args = parser.parse_args()
    work = args.work.resolve()
    settings = prepare.trained_settings(work / "home")
    skops_path, _, columns = prepare.export_model(settings, work / "models")
    rows = prepare.feature_rows(settings, 500)
    load_before = os.getloadavg()
    with temporary_database() as registry_uri:  # Feast's SQL registry, as the prod profile requires
        running, helpers = start_all(settings, work, rows, columns, skops_path, registry_uri, args.only)
        try:
            results = measure_rounds(running, args.rounds, args.seconds)
        finally:
            for server in running:
                server.process.stop()
            for helper in helpers:
                helper.stop()
    args.out.write_text(render(results, args.rounds, args.seconds, load_before, os.getloadavg()))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
