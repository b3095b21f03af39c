"""`make bench-demo`: how long `shipyard demo` (what `make demo` runs after installing) takes, step by step.

Each repeat runs the real command in its own process and its own empty home, reads its progress lines
as they arrive and notes when each step finished. The load average is recorded before and after each
run: on a 2-core machine another process's work shows up directly in these times.

    python -m benchmarks.demo.run [--repeats 3] [--results benchmarks/demo/results.md]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).with_name("results.md")
TICK = "✓ "


def one_run(home: Path) -> tuple[float, list[tuple[str, float]], tuple[float, float]]:
    """Wall seconds, (step, seconds since the previous step) in order, and the 1-minute load before/after."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env.update(SHIPYARD_HOME=str(home), COLUMNS="200")
    load_before = os.getloadavg()[0]
    started = previous = time.perf_counter()
    steps = []
    with subprocess.Popen([sys.executable, "-m", "shipyard_cli.main", "demo"], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, start_new_session=True) as demo:
        for line in demo.stdout:
            if line.startswith(TICK):
                now = time.perf_counter()
                steps.append((_step_name(line[len(TICK):]), now - previous))
                previous = now
        code = demo.wait()
    if code != 0:
        raise SystemExit(f"`shipyard demo` exited with {code} in {home}")
    return time.perf_counter() - started, steps, (load_before, os.getloadavg()[0])


def _step_name(text: str) -> str:
    """The step's words without its numbers and URLs, so the same step matches across runs."""
    words = [w for w in text.split() if not any(ch.isdigit() for ch in w) and "://" not in w]
    return " ".join(words[:6])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    runs = []
    for i in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="shipyard-bench-demo-") as home:
            runs.append(one_run(Path(home)))
        print(f"run {i + 1}/{args.repeats}: {runs[-1][0]:.0f} s (load {runs[-1][2][0]:.2f} -> {runs[-1][2][1]:.2f})",
              flush=True)
    totals = [total for total, _, _ in runs]
    lines = [f"# `shipyard demo` wall time ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)", "",
             f"Machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}. Default sizes (40,000 events, "
             "1,500 requests per phase, alert loop on). Installation not included.", "",
             f"Median of {len(totals)} runs: **{statistics.median(totals):.0f} s** "
             f"(min {min(totals):.0f} s, max {max(totals):.0f} s).", "",
             "| run | seconds | load average before | after |", "|---|---|---|---|"]
    lines += [f"| {i + 1} | {total:.0f} | {before:.2f} | {after:.2f} |"
              for i, (total, _, (before, after)) in enumerate(runs)]
    lines += ["", "Median seconds per step:", "", "| step | seconds |", "|---|---|"]
    names = [name for name, _ in runs[0][1]]
    for position, name in enumerate(names):
        seconds = [steps[position][1] for _, steps, _ in runs if len(steps) > position]
        lines.append(f"| {name} | {statistics.median(seconds):.1f} |")
    args.results.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.results.resolve()}")


if __name__ == "__main__":
    main()
