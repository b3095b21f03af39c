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
    for tool in ("wrk", "hey", "redis-server", "taskset"):
        if shutil.which(tool) is None:
            fail_in_ci_else_skip(f"{tool} is not installed (make bench-tools)")
    out = tmp_path / "results.md"
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "serving" / "interleaved.py"),
                             "--rounds", "1", "--seconds", "1", "--only", "Shipyard", "--work", str(tmp_path / "work"),
                             "--out", str(out)], capture_output=True, text=True, timeout=1100, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = out.read_text()
    shipyard = {"Shipyard fast path", "Shipyard fast path, 2 workers", "Shipyard via KServe's route"}
    # name | req/s at 8 | ratio | p50 at 1 by wrk / hey / socket | errors
    rows = {m[1]: m for m in re.finditer(r"^\| ([^|]+?) \| (\d+) \| [^|]+ \| (\d+\.\d\d) / (\d+\.\d\d) / "
                                         r"(\d+\.\d\d) ms \| (\d+) \|$", report, re.MULTILINE)}
    assert set(rows) == shipyard | {"KServe no-op, logging off"}, report
    assert all(int(row[2]) > 0 and row[6] == "0" for row in rows.values()), report  # answered, no errors
    assert all(float(p50) > 0 for row in rows.values() for p50 in row.groups()[2:5]), report
    # p99 at one connection by the three clients; for Shipyard, its own share within 1 ms, p99 bucket.
    p99 = r"(\d+\.\d\d) ms \(\S+\)"
    tails = {m[1]: m for m in re.finditer(rf"^\| ([^|]+?) \| {p99} \| {p99} \| {p99} \| ([^|]+) \| ([^|]+) \|$",
                                          report, re.MULTILINE)}
    assert set(tails) == set(rows), report
    assert all(float(value) > 0 for tail in tails.values() for value in tail.groups()[1:4]), report
    for name in shipyard:
        share, bounds = tails[name][5], tails[name][6]
        assert 0 < float(share.split("%")[0]) <= 100 and bounds.endswith(" ms"), report
    assert tails["KServe no-op, logging off"].groups()[4:] == ("-", "-"), report  # no histogram of ours
    assert "x fewer requests per second at 8 connections" in report
