"""`make bench-serving` (second part): server overhead apart from model speed, measured interleaved.

    .venv/bin/python benchmarks/serving/interleaved.py [--rounds 5] [--seconds 5] [--out ...interleaved.md]

Every server starts once and waits; each round then measures every server in turn (A B C ... A B C ...),
so a machine whose speed swings within minutes swings for all of them alike. Reported per row: the
median over rounds and the spread (min-max) of its throughput ratio to KServe's no-op with its
per-request logging off, measured in the same round, plus p50 and p99 at 1 connection (measured
after a pause that lets the 8-connection run's leftover work finish: ``SETTLE_SECONDS``) by three
clients in turn (``CLIENTS``: wrk, hey and a blocking socket; they disagree about the tail, wrk
most). For Shipyard's rows also the server's own durations over the 1-connection runs
(server_latency.py): the share answered within 1 ms and the bucket bound of p99, so a slow tail is
placed in the server's handler or around it (loopback, scheduling, the client).

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

from shipyard_cli.processes import ServerProcess, free_port, start_mlflow_server, start_redis, unwind_on_sigterm
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
ONNX_PEER = "KServe custom model, same ONNX, features in the request"


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
            (ONNX_PEER,
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


# The clients at one connection (loadgen.py): wrk, hey, and a blocking socket of our own. Three, because
# they disagree about the tail on these machines, wrk with the other two (the bare ASGI row shows each
# client's own floor).
CLIENTS = ("wrk", "hey", "socket")


def measure_at_one_connection(client: str, server: Running, seconds: int) -> loadgen.Result:
    if client == "wrk":
        return loadgen.closed_loop(server.url, server.bodies, 1, seconds)
    if client == "hey":
        return loadgen.hey_one_connection(server.url, server.bodies[0], seconds)
    return loadgen.one_connection(server.url, server.bodies, seconds)


def rotated(items: tuple, by: int) -> list:
    return [items[(i + by) % len(items)] for i in range(len(items))]


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
            # The one-connection clients take turns going first: the first run after the 8-connection one
            # may meet what the settle pause did not absorb.
            at_one = {}
            for client in rotated(CLIENTS, round_number):
                at_one[client] = measure_at_one_connection(client, server, seconds)
            inside = server_latency.scrape(server.base_url) - before if before is not None else None
            results[server.name].append({
                "rps8": eight.rps, **{f"p50_1_{c}": r.p50_ms for c, r in at_one.items()},
                **{f"p99_1_{c}": r.p99_ms for c, r in at_one.items()},
                "errors": eight.errors + sum(r.errors for r in at_one.values()), "load": os.getloadavg()[0],
                "within_1": inside.share_within(server_latency.WITHIN_SECONDS) if inside else None,
                "server_p99_bound": inside.quantile_bound(0.99) if inside else None})
            own = (f"; server's own: {100 * results[server.name][-1]['within_1']:.2f}% within 1 ms"
                   if inside else "")
            clients = ", ".join(f"{c} p50 {r.p50_ms:.2f} / p99 {r.p99_ms:.2f} ms" for c, r in at_one.items())
            print(f"  round {round_number + 1} {server.name}: {eight.rps:.0f} req/s at 8; at 1: {clients}{own}",
                  flush=True)
    return results


def render(results: dict[str, list[dict]], rounds: int, seconds: int, load_before, load_after) -> str:
    import report

    baseline = results[BASELINE]
    lines = [
        "# Serving overhead, interleaved", "",
        f"Machine: {report.cpu_model()}, {os.cpu_count()} CPUs; servers pinned to CPU {servers.SERVER_CPU} "
        f"({TWO_WORKERS!r}: both CPUs), load generators on CPU {loadgen.LOADGEN_CPU}. {rounds} rounds of "
        f"{seconds} s per server and load pattern, servers interleaved (A B C ... then reversed), "
        f"{SETTLE_SECONDS} s idle between a server's 8- and 1-connection runs. Load average before "
        f"{load_before[0]:.2f}, after {load_after[0]:.2f}.", "",
        f"Ratio: throughput at 8 connections (wrk) over {BASELINE!r} in the same round; median (min-max). "
        "p50 at 1 connection: median over rounds, by each client.", "",
        "| server | req/s at 8 conn. (median) | ratio to no-op, logging off | p50 at 1 conn.: wrk / hey / socket "
        "| errors |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, runs in results.items():
        ratios = [run["rps8"] / base["rps8"] for run, base in zip(runs, baseline, strict=True)]
        p50 = " / ".join(f"{statistics.median(run[f'p50_1_{c}'] for run in runs):.2f}" for c in CLIENTS)
        lines.append(f"| {name} | {statistics.median(r['rps8'] for r in runs):.0f} | "
                     f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) | {p50} ms | "
                     f"{sum(r['errors'] for r in runs)} |")
    if FAST in results and KSERVE_ROUTE in results:
        lines += ["", f"{KSERVE_ROUTE!r} over {FAST!r}, same round, median (min-max): "
                      f"{spread(results, 'p50_1_socket', lambda route, fast: route / fast)}x the p50 latency at 1 "
                      f"connection (socket); {spread(results, 'rps8', lambda route, fast: fast / route)}x fewer "
                      "requests per second at 8 connections."]
    if FAST in results and ONNX_PEER in results:
        # What KServe's own route costs a model doing less than Shipyard's (no Redis read, no prediction log).
        lines += ["", f"{ONNX_PEER!r} over {FAST!r}, same round, median (min-max): "
                      f"{spread(results, 'rps8', lambda peer, fast: fast / peer, ONNX_PEER)}x fewer requests per "
                      "second at 8 connections."]
    lines += [
        "", "## p99 at 1 connection", "",
        "Three clients in turn, each for the same time, the first of them rotating from round to round: wrk; "
        "hey (Go's HTTP client; 0.1 ms steps); and a blocking socket (loadgen.one_connection: nothing between a "
        "request and its answer but `recv`). Then, for Shipyard, the server's own durations over those runs "
        f"(`{server_latency.METRIC}`, from the request's arrival in the fast-path middleware to its answer: no "
        "loopback, no client), read from /metrics before and after. Median over rounds (min-max).", "",
        "| server | wrk | hey | socket | server's own: share within 1 ms | server's own: p99 within, per round |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, runs in results.items():
        p99 = " | ".join(median_spread([run[f"p99_1_{c}"] for run in runs], " ms") for c in CLIENTS)
        own = "- | -"
        if runs[0]["within_1"] is not None:
            bounds = ", ".join(f"{1000 * run['server_p99_bound']:g} ms" for run in runs)
            own = f"{median_spread([100 * run['within_1'] for run in runs], '%')} | {bounds}"
        lines.append(f"| {name} | {p99} | {own} |")
    return "\n".join(lines) + "\n"


def median_spread(values: list[float], unit: str) -> str:
    return f"{statistics.median(values):.2f}{unit} ({min(values):.2f}-{max(values):.2f})"


def spread(results: dict[str, list[dict]], key: str, ratio, other: str = KSERVE_ROUTE) -> str:
    """``ratio(other, fast path)`` of ``key`` per round: median (min-max)."""
    values = [ratio(run[key], fast[key]) for run, fast in zip(results[other], results[FAST], strict=True)]
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main() -> None:
    unwind_on_sigterm()  # `kill` stops the servers too
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
