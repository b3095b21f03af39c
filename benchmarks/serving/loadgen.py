"""Load generation: wrk for the closed loops, an asyncio open loop at a fixed rate, CPU accounting."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import re
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

LOADGEN_CPU = "1"  # the servers run on CPU 0


@dataclass
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_seconds: float = 0.0
    load_average: float = 0.0  # the machine's 1-minute load when this measurement started

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.cpu_seconds / max(self.requests, 1)


def process_tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its descendants (MLflow and MLServer fork workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        pending.extend(int(c) for c in children)
    return total


WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local bodies = {}
for line in io.lines("%s") do bodies[#bodies + 1] = line end
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, bodies[(n %% #bodies) + 1])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%f %%f %%f %%d\\n", summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
    + summary.errors.status))
end
"""


def closed_loop(url: str, bodies: list[bytes], connections: int, seconds: int) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        body_file, script = Path(tmp) / "bodies.jsonl", Path(tmp) / "post.lua"
        body_file.write_bytes(b"\n".join(bodies) + b"\n")
        script.write_text(WRK_SCRIPT % body_file)
        out = subprocess.run(["taskset", "-c", LOADGEN_CPU, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
                              "-s", str(script), url], capture_output=True, text=True, check=True).stdout
    requests, duration, p50, p99, errors = re.search(r"RESULT (\S+) (\S+) (\S+) (\S+) (\S+)", out).groups()
    return Result(int(requests), float(duration), float(p50), float(p99), int(errors))


def one_connection(url: str, bodies: list[bytes], seconds: float) -> Result:
    """One keep-alive connection, one request at a time, from a plain blocking socket: a client at one
    connection beside wrk and hey.

    Why: on these machines wrk's own tail at one connection is of the order of the 1 ms it is meant to
    check. Its p99 against a bare ASGI app that answers a constant ranged from 0.17 to 4.27 ms over the
    rounds of three runs, against 0.11-0.16 ms by this client in the same rounds and 0.20 ms by hey in
    the one run it took part in (results-interleaved.md). This client does nothing between a request
    and its answer but block in ``recv``, and runs without cyclic garbage collection, so its p99 is the
    server's and the machine's. Each latency runs from just before the request is written to the last
    byte of the answer."""
    target = urlparse(url)
    head = (b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: "
            % (target.path.encode(), target.netloc.encode()))
    requests = [head + b"%d\r\n\r\n%s" % (len(body), body) for body in bodies]
    affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {int(LOADGEN_CPU)})
    latencies: list[float] = []
    errors = 0
    try:
        with without_cyclic_gc(), socket.create_connection((target.hostname, target.port), timeout=10) as conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pending = b""
            start = time.perf_counter()
            deadline = start + seconds
            while (now := time.perf_counter()) < deadline:
                conn.sendall(requests[len(latencies) % len(requests)])
                answer, pending = read_answer(conn, pending)
                latencies.append(time.perf_counter() - now)
                errors += not answer.startswith(b"HTTP/1.1 200")
            elapsed = time.perf_counter() - start
    finally:
        os.sched_setaffinity(0, affinity)
    return summary(latencies, elapsed, errors)


def hey_one_connection(url: str, body: bytes, seconds: int) -> Result:
    """A third client at one connection: hey (Debian package hey; Go's HTTP client, keep-alive), pinned
    to the generator's CPU, sending one body for ``seconds``. hey reports latencies in 0.1 ms steps."""
    with tempfile.TemporaryDirectory() as tmp:
        body_file = Path(tmp) / "body.json"
        body_file.write_bytes(body)
        out = subprocess.run(["taskset", "-c", LOADGEN_CPU, "hey", "-c", "1", "-z", f"{seconds}s", "-m", "POST",
                              "-T", "application/json", "-D", str(body_file), url],
                             capture_output=True, text=True, check=True).stdout

    def seconds_at(percent: int) -> float:
        return float(re.search(rf"{percent}% in (\S+) secs", out).group(1))
    statuses = {int(code): int(count) for code, count in re.findall(r"\[(\d+)\]\s+(\d+) responses", out)}
    # Requests without an answer: "Error distribution:", then "  [count]\t<error>" per kind.
    failed = out.split("Error distribution:", 1)[1] if "Error distribution:" in out else ""
    errors = sum(count for code, count in statuses.items() if code != 200) + sum(
        int(count) for count in re.findall(r"\[(\d+)\]", failed))
    elapsed = float(re.search(r"Total:\s+(\S+) secs", out).group(1))
    return Result(sum(statuses.values()), elapsed, 1000 * seconds_at(50), 1000 * seconds_at(99), errors)


def read_answer(conn: socket.socket, pending: bytes) -> tuple[bytes, bytes]:
    """One whole HTTP answer (its head) from ``conn``, and the bytes read past it."""
    while (end := pending.find(b"\r\n\r\n")) < 0:
        pending += receive(conn)
    head = pending[:end]
    length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))
    while len(pending) < end + 4 + length:
        pending += receive(conn)
    return head, pending[end + 4 + length:]


def receive(conn: socket.socket) -> bytes:
    chunk = conn.recv(65536)
    if not chunk:
        raise ConnectionError("the server closed the connection")
    return chunk


# A server (or this generator) that falls behind makes requests pile up: past this many connections
# they wait for one to come free instead of running the process out of file descriptors.
MAX_OPEN_LOOP_CONNECTIONS = 512


async def _open_loop(url: str, bodies: list[bytes], rate: float, seconds: float) -> Result:
    target = urlparse(url)
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    latencies: list[float] = []
    errors = 0

    connections = asyncio.Semaphore(MAX_OPEN_LOOP_CONNECTIONS)

    async def one(body: bytes, scheduled: float) -> None:
        async with connections:  # waiting here counts: the latency runs from the scheduled send time
            await send(body, scheduled)

    async def send(body: bytes, scheduled: float) -> None:
        nonlocal errors
        reader, writer = idle.pop() if idle else await asyncio.open_connection(target.hostname, target.port)
        try:
            writer.write(b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (target.path.encode(), target.netloc.encode(),
                                                            len(body), body))
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200"):
                errors += 1
            # From the scheduled send time: a late send counts against the server (no coordinated omission).
            latencies.append(time.perf_counter() - scheduled)
            idle.append((reader, writer))
        except (OSError, asyncio.IncompleteReadError, AttributeError):
            errors += 1
            writer.close()

    tasks, start = [], time.perf_counter()
    total = int(rate * seconds)
    for i in range(total):
        scheduled = start + i / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        tasks.append(asyncio.create_task(one(bodies[i % len(bodies)], scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    for _, writer in idle:
        writer.close()
    return summary(latencies, elapsed, errors)


def open_loop(url: str, bodies: list[bytes], rate: float, seconds: float) -> Result:
    os.sched_setaffinity(0, {int(LOADGEN_CPU)})  # this process is the load generator from here on
    with without_cyclic_gc():
        return asyncio.run(_open_loop(url, bodies, rate, seconds))


@contextlib.contextmanager
def without_cyclic_gc() -> Iterator[None]:
    """No cyclic garbage collection while measuring (as timeit does): the process that measures has
    trained a model and imported Feast and MLflow, and a full collection of that heap stopped the
    generator for about 250 ms, which it then reported as the server's p99 (230-490 ms at 3,000 req/s
    in the open loop, against 3-5 ms with collection off)."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def summary(latencies: list[float], elapsed: float, errors: int) -> Result:
    """A Python client's latencies (seconds) as a ``Result``: median and p99 in ms."""
    ordered = sorted(latencies) or [float("nan")]
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return Result(len(latencies), elapsed, 1000 * statistics.median(ordered), 1000 * p99, errors)
