"""The results table (Markdown) with the machine it ran on and the ratios to each peer."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime

from loadgen import Result

SHIPYARD = "Shipyard (Redis features + ONNX model)"


def cpu_model() -> str:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def render(results: dict[str, dict[str, Result]], reads: dict[str, float], load_before, load_after) -> str:
    loops = list(next(iter(results.values())))
    lines = [
        "# Serving benchmark", "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores ({cpu_model()}), "
        f"{platform.system()} {platform.release()}; `uptime` load average before "
        f"{', '.join(f'{x:.2f}' for x in load_before)}, after {', '.join(f'{x:.2f}' for x in load_after)} "
        "(other work on the machine makes the numbers noisy).",
        f"wrk {subprocess.run(['wrk', '-v'], capture_output=True, text=True).stdout.split()[1]}; "
        "one worker per server on CPU 0 (Shipyard's Redis too), the load generator on CPU 1; one run.", "",
        "Shipyard looks the customer's features up in Redis (Feast's format) and logs every prediction; "
        "the peers get the full model input in the request and have no feature store and no prediction log.",
        "`mlflow models serve` returns class labels (the model's pyfunc `predict`), the others probabilities.",
        "CPU per request is the server process tree's user + system time over the run (Shipyard's includes its "
        "Redis).", "",
        "| server | load | req/s | p50 ms | p99 ms | CPU ms/req | errors | Shipyard ÷ server (req/s) "
        "| machine load at start |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, by_loop in results.items():
        for loop in loops:
            r, ours = by_loop[loop], results[SHIPYARD][loop]
            ratio = "" if name == SHIPYARD else f"{ours.rps / r.rps:.2f}x"
            lines.append(f"| {name} | {loop} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | "
                         f"{r.cpu_ms_per_request:.3f} | {r.errors} | {ratio} | {r.load_average:.2f} |")
    lines += ["", "At 200 req/s a server that keeps up shows its latency (and CPU per request), not its ceiling; "
              "the open-loop generator is Python asyncio, whose own scheduling delay is inside these latencies.", "",
              "## One-entity online feature read (Redis, median of single calls)", "",
              "| read | µs |", "|---|---:|"]
    lines += [f"| {name} | {micros:.0f} |" for name, micros in reads.items()]
    lines.append("")
    return "\n".join(lines)
