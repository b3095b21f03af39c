"""`shipyard demo` as `make demo` runs it: the real command in its own process, twice in one home.

The first run goes through the alert loop (Prometheus + Alertmanager + the monitor's webhook start the
retraining); the second, without it, must tell only its own story. Each run is a separate process, as
two `make demo` calls are, so nothing cached in one process can hide what the second run reads.
"""

import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import fail_in_ci_else_skip

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(2400)]

ROWS, TRAFFIC = "20000", "1500"


def _demo(home, *extra: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env.update(SHIPYARD_HOME=str(home), OMP_NUM_THREADS="1", COLUMNS="80")
    result = subprocess.run([sys.executable, "-m", "shipyard_cli.main", "demo", "--rows", ROWS, "--traffic", TRAFFIC,
                             *extra], env=env, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result.stdout


def _summary(out: str) -> list[str]:
    """The summary's lines: from its title to the drift tables printed after it."""
    start = out.index("Shipyard demo summary")
    return out[start:out.index("\nDrift: ", start)].splitlines()


def test_make_demo_runs_the_loop_and_a_second_run_reports_only_itself(tmp_path):
    if shutil.which("prometheus") is None:
        fail_in_ci_else_skip("prometheus is not installed (make prometheus-tools)")
    home = tmp_path / "home"

    first = _demo(home)
    assert "\x1b[" not in first  # piped: no colour codes
    assert "INFO mlflow" not in first
    lines = _summary(first)
    # The alert loop started the retraining, which beat the degraded champion on the newest window.
    assert any(re.match(r"alert loop: Shipyard\w+ firing \d+s after drift onset", line) for line in lines), lines
    assert "  version 1 (training): promoted" in lines, lines
    assert any(re.match(r"  version 2 \(retraining, reason: .+\): promoted", line) for line in lines), lines
    assert "champion at the end: fraud version 2 (trained in this run)" in lines
    normal, shifted = (re.search(rf"^{name} traffic: (\d+)/(\d+) answered", first, re.M)
                       for name in ("normal", "fraud_pattern_shift"))
    assert normal[1] == normal[2] == TRAFFIC and shifted[1] == shifted[2] == TRAFFIC

    second = _demo(home, "--no-alert-loop")
    lines = _summary(second)
    run_id = re.match(r"Shipyard demo summary \(run (\S+)\)", lines[0])[1]
    assert run_id not in first
    assert not any(line.startswith("alert loop:") for line in lines)  # the first run's loop is not this one's
    versions = [line for line in lines if re.match(r"  version \d+ ", line)]
    # A fresh state: the second run trains version 1 again and retrains once more, nothing else.
    assert len(versions) == 2 and versions[0].startswith("  version 1 (training): "), versions
    assert versions[1].startswith("  version 2 (retraining, reason: demo: fraud_pattern_shift traffic): "), versions
    assert "champion at the end: fraud version 2 (trained in this run)" in lines
    assert len(lines) == len(set(lines))  # each fact once
