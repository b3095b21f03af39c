"""`make bench-serving`'s interleaved comparison, run short: the code path a benchmark run takes, so a change
that breaks it fails here and not months later in a run nobody checks. Its numbers prove nothing (1 s
runs); only that every server started, answered without errors and was reported."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import fail_in_ci_else_skip

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1200)]
ROOT = Path(__file__).resolve().parents[2]


def test_interleaved_bench_runs_every_shipyard_row_and_reports_the_servers_own_latency(tmp_path):
    for tool in ("wrk", "redis-server", "taskset"):
        if shutil.which(tool) is None:
            fail_in_ci_else_skip(f"{tool} is not installed (make bench-tools)")
    out = tmp_path / "results.md"
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "serving" / "interleaved.py"),
                             "--rounds", "1", "--seconds", "1", "--only", "Shipyard", "--work", str(tmp_path / "work"),
                             "--out", str(out)], capture_output=True, text=True, timeout=1100, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = out.read_text()
    # name | req/s at 8 | ratio | p50 / p99 by wrk | p50 / p99 by the blocking socket | errors
    latency = r"\d+\.\d\d / (\d+\.\d\d) ms \(\S+\)"
    rows = {m[1]: m for m in re.finditer(rf"^\| ([^|]+?) \| (\d+) \| [^|]+ \| {latency} \| {latency} \| (\d+) \|$",
                                         report, re.MULTILINE)}
    assert set(rows) == {"Shipyard fast path", "Shipyard fast path, 2 workers", "Shipyard via KServe's route",
                         "KServe no-op, logging off"}, report
    # Answered, with a p99 from both clients at one connection, and without errors.
    assert all(int(row[2]) > 0 and float(row[3]) > 0 and float(row[4]) > 0 and row[5] == "0"
               for row in rows.values()), report
    # The server's own durations: one row per Shipyard server, a share of its requests within 1 ms.
    own = re.findall(r"^\| (Shipyard[^|]*) \| (\d+\.\d\d)% \(", report, re.MULTILINE)
    assert {name for name, _ in own} == {"Shipyard fast path", "Shipyard fast path, 2 workers",
                                         "Shipyard via KServe's route"}, report
    assert all(0 < float(share) <= 100 for _, share in own), report
    assert "x fewer requests per second at 8 connections" in report
