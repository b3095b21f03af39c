"""A process that started servers stops them when it is told to stop with SIGTERM (``kill``, a CI timeout).

Each ``ServerProcess`` runs in a session of its own, so the signal to its parent does not reach it; the
parent has to unwind (``unwind_on_sigterm``) for its ``finally`` to stop them.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

pytestmark = pytest.mark.unit

PARENT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from shipyard_cli.processes import ServerProcess, unwind_on_sigterm

    unwind_on_sigterm()
    server = ServerProcess([], Path(sys.argv[1]), program=["sleep", "600"]).start()
    try:
        print(server.pid, flush=True)
        time.sleep(600)
    finally:
        server.stop()
""")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited: only its parent's wait is missing.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ", 1)[1][0] != "Z"


def test_sigterm_to_the_parent_stops_the_servers_it_started(tmp_path):
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path / "server.log")], stdout=subprocess.PIPE,
                              text=True)
    server_pid = int(parent.stdout.readline())
    assert alive(server_pid)
    try:
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(30) == 143
        deadline = time.monotonic() + 10
        while alive(server_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(server_pid), "the server outlived the parent told to stop"
    finally:
        parent.kill()
        if alive(server_pid):
            os.kill(server_pid, signal.SIGKILL)
