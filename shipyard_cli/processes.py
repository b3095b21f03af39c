"""Start and stop the platform's server processes (the demo and the tests use the same code)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from components.serving.server import MULTIPROC_ENVS


def poll(check: Callable[[], object], timeout: float, what: str, interval: float = 1.0):
    """Call ``check`` until it returns something truthy (returned); TimeoutError saying ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        if value := check():
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} within {timeout:.0f}s")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """A `shipyard ...` subprocess (or ``program``) with its output in a log file; stopped with
    SIGTERM, then SIGKILL, sent to its whole process group (servers such as MLflow fork workers)."""

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str] | None = None,
                 program: list[str] | None = None):
        self.args = args
        self.log_path = log_path
        # A parent that imported Feast has Feast's prometheus_client multiprocess folder in its environment:
        # a child server would inherit it, put its metrics there and pay for file-backed counters.
        inherited = {k: v for k, v in os.environ.items() if k not in MULTIPROC_ENVS}
        self.env = {**inherited, **(env or {})}
        self.program = program if program is not None else [sys.executable, "-m", "shipyard_cli.main"]
        shown = [Path(program[0]).name, *program[1:]] if program else ["shipyard"]
        self.command = " ".join([*shown, *args])
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def start(self) -> ServerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([*self.program, *self.args], stdout=log, stderr=subprocess.STDOUT,
                                            env=self.env, start_new_session=True)
        return self

    def log_tail(self, lines: int = 20) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait_until(self, ready: Callable[[], bool], timeout: float = 120.0) -> None:
        """Until ``ready()``; RuntimeError with the log's tail if the process exits first."""
        def ready_or_exited() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"`{self.command}` exited with {self.process.returncode}:\n{self.log_tail()}")
            return ready()

        try:
            poll(ready_or_exited, timeout, f"`{self.command}` was not ready", interval=0.25)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}:\n{self.log_tail()}") from None

    def signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.process.pid, sig)  # its own session: the group id is its pid
        except ProcessLookupError:
            pass

    def start_until(self, ready: Callable[[], bool], timeout: float = 120.0) -> ServerProcess:
        """Start, wait until ``ready``; a server that never gets there is stopped, not left behind."""
        self.start()
        try:
            self.wait_until(ready, timeout)
        except Exception:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is not None:
            self._signal_group(signal.SIGKILL)  # the leader is gone; workers it forked may not be
            return self.process.returncode
        self._signal_group(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            code = self.process.wait()
        self._signal_group(signal.SIGKILL)
        return code

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def unwind_on_sigterm() -> None:
    """A SIGTERM unwinds this process like Ctrl-C, so its ``finally`` blocks stop every server it started.

    Each ``ServerProcess`` runs in a session of its own (its forked workers are stopped as one group), so a
    signal to this process's group does not reach it: without this, ``kill`` left the servers running."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(url, timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False
    return check


def start_predictor(port: int, log_path: Path, env: dict[str, str] | None = None) -> ServerProcess:
    """`shipyard serve`, ready when the server says every model is loaded (the OIP server readiness route)."""
    ready = http_ok(f"http://127.0.0.1:{port}/v2/health/ready")
    return ServerProcess(["serve", "--port", str(port)], log_path, env).start_until(ready)


def redis_answers(port: int) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False
    return check


def start_redis(port: int, log_path: Path) -> ServerProcess:
    """A private redis-server (tests stop and restart it; the shared one is left alone).

    Its data lives in ``log_path``'s folder: a clean stop (SIGTERM) saves it, a restart loads it.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "3600 1", "--appendonly", "no",
            "--dir", str(log_path.parent)]
    return ServerProcess(args, log_path, program=["redis-server"]).start_until(redis_answers(port), timeout=20)


def start_mlflow_server(port: int, backend_store_uri: str, log_path: Path,
                        artifacts_destination: Path | None = None, env: dict[str, str] | None = None) -> ServerProcess:
    """An MLflow tracking server over an existing store (the prod profile reaches MLflow over HTTP).

    With ``artifacts_destination`` it proxies artifacts (``--serve-artifacts``): clients upload and
    download through it and never need its disk. Job execution is off (it would fork job workers).
    """
    program = [str(Path(sys.executable).with_name("mlflow")), "server"]
    args = ["--backend-store-uri", backend_store_uri, "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1"]
    if artifacts_destination is not None:
        args += ["--serve-artifacts", "--artifacts-destination", str(artifacts_destination)]
    env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **(env or {})}
    return ServerProcess(args, log_path, env, program=program).start_until(http_ok(f"http://127.0.0.1:{port}/health"))
