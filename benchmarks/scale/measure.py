"""Run one step as its own process and measure it: wall time and peak RSS (the step alone).

Peak RSS is the kernel's high-water mark of the step's process (``wait4``'s ``ru_maxrss``, which also
covers children it waited for), and the sampled peak of its whole process tree (psutil, every 0.1 s)
for child processes that outlive their parent's wait (a JVM, worker pools). A step whose tree grows past
``memory_cap`` is stopped: on a shared machine an unbounded step must not take everything.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from shipyard_cli.processes import ServerProcess

GIB = 1024**3


@dataclass
class StepResult:
    step: str
    rows: int
    seconds: float
    peak_rss_bytes: int
    status: str  # ok | failed | killed (over the memory cap) | skipped
    load_average: float  # 1-minute load when the step started
    detail: dict = field(default_factory=dict)  # what the step reported (rows out, AUC, ...)
    error: str = ""
    cpu_seconds: float = 0.0  # user + system CPU of the step: less affected by a busy machine than wall time

    @property
    def peak_gib(self) -> float:
        return self.peak_rss_bytes / GIB

    def as_dict(self) -> dict:
        return asdict(self)


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            continue
    return total


def run_step(step: str, rows: int, args: list[str], env: dict[str, str], log: Path,
             memory_cap: int, timeout: float) -> StepResult:
    """``python -m benchmarks.scale.steps STEP ARGS`` in a new process group; its JSON detail read back."""
    detail_path = log.with_suffix(".json")
    detail_path.unlink(missing_ok=True)
    load = os.getloadavg()[0]
    log.unlink(missing_ok=True)
    # The harness's process supervisor starts it (own process group, output to the log); the
    # measuring is here: wait4 gives the step's rusage, a thread samples its tree's memory.
    step_process = ServerProcess([step, "--detail", str(detail_path), *args], log, env,
                                 program=[sys.executable, "-m", "benchmarks.scale.steps"])
    started = time.perf_counter()
    child = step_process.start().process
    peak, killed, done = [0], [False], threading.Event()

    def watch() -> None:
        watched = psutil.Process(child.pid)
        while not done.wait(0.1):
            try:
                peak[0] = max(peak[0], _tree_rss(watched))
            except psutil.Error:
                return
            if peak[0] > memory_cap or time.perf_counter() - started > timeout:
                killed[0] = True
                os.killpg(child.pid, signal.SIGKILL)
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    done.set()
    watcher.join()
    child.returncode = os.waitstatus_to_exitcode(status)
    step_process.stop()  # the whole group: nothing the step started may outlive it
    peak_bytes = max(usage.ru_maxrss * 1024, peak[0])
    cpu = usage.ru_utime + usage.ru_stime
    detail = json.loads(detail_path.read_text()) if detail_path.exists() else {}
    if killed[0]:
        why = (f"stopped at {peak[0] / GIB:.1f} GiB (cap {memory_cap / GIB:.0f} GiB)" if peak[0] > memory_cap
               else f"stopped after {timeout:.0f} s")
        return StepResult(step, rows, seconds, peak_bytes, "killed", load, detail, why, cpu)
    if child.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
        return StepResult(step, rows, seconds, peak_bytes, "failed", load, detail, tail[0][:300], cpu)
    return StepResult(step, rows, seconds, peak_bytes, "ok", load, detail, cpu_seconds=cpu)
