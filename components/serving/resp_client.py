"""The smallest Redis client the feature read needs: pipelined HMGET over one persistent socket.

redis-py spends ~70 µs of Python per command (connection pool, command objects, reply parsing
layers) on top of a ~25 µs loopback round trip; this speaks RESP directly. Any socket or protocol
error closes the connection and raises ``ConnectionError``; the next call connects again, so the
reader recovers by itself when Redis is back.

- A kept-alive connection that Redis closed since the last call (its idle ``timeout`` setting, a
  restart, ``CLIENT KILL``) is found closed when the reply should come: the read is sent again, once,
  on a new connection (HMGET reads, so asking twice changes nothing). A new connection that fails is
  not retried.
- A Redis that does not answer within ``timeout`` (hung, not down) is asked, for the next ``hold_off``
  seconds, with the much shorter ``probe_timeout``. The read is synchronous on the server's event loop,
  so without this every queued request (liveness probes too) waited one more ``timeout`` in turn. A
  Redis that answers again within ``probe_timeout`` (a loopback or in-cluster round trip is well under
  1 ms) ends the hold-off at once, so the first request after it wakes is answered; one slower than
  that is asked with the whole ``timeout`` again once the hold-off is over.
"""

from __future__ import annotations

import socket
import struct
import time


class RespError(ConnectionError):
    """Redis did not answer, answered an error, or the reply was not what HMGET returns."""


class RespClosed(RespError):
    """Redis closed the connection (idle timeout, restart): a new connection may well answer."""


class RespTimeout(RespError):
    """Redis did not answer within the timeout: hung, or too slow."""


def encode_command(*parts: bytes) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


class RespConnection:
    def __init__(self, host: str, port: int, db: int = 0, password: str | None = None, timeout: float = 0.2,
                 username: str | None = None, hold_off: float = 1.0, probe_timeout: float = 0.01):
        self.address, self.db, self.password, self.timeout = (host, port), db, password, timeout
        self.username = username  # a Redis 6 ACL user; without it AUTH is the default user's password
        self.hold_off, self.probe_timeout = hold_off, probe_timeout  # after a timeout (module docstring)
        self.held_until = 0.0  # time.monotonic() before which Redis is asked with ``probe_timeout``
        self.limit = timeout  # what the open socket waits for, in seconds
        self._sock: socket.socket | None = None
        self._reader = None

    def _connect(self, limit: float) -> None:
        self.limit = limit  # for the message of a connect that times out
        sock = socket.create_connection(self.address, timeout=limit)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(None)
        self._sock, self._reader = sock, sock.makefile("rb")
        self._wait_at_most(limit)
        setup = []
        if self.password:
            user = [self.username.encode()] if self.username else []
            setup.append(encode_command(b"AUTH", *user, self.password.encode()))
        if self.db:
            setup.append(encode_command(b"SELECT", str(self.db).encode()))
        if setup:
            sock.sendall(b"".join(setup))
            for _ in setup:
                self._read_reply()

    def _wait_at_most(self, limit: float) -> None:
        # Kernel-side timeouts on a blocking socket: Python's own timeout mode adds a poll() per call.
        seconds = int(limit)
        packed = struct.pack("ll", seconds, int((limit - seconds) * 1e6))
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, packed)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, packed)
        self.limit = limit

    def _timeout(self) -> RespTimeout:
        if self.limit == self.timeout:
            return RespTimeout(f"timeout: Redis did not answer within {self.timeout:g} s")
        return RespTimeout(f"timeout: Redis did not answer within {self.limit:g} s (the limit for "
                           f"{self.hold_off:g} s after a {self.timeout:g} s timeout)")

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._reader.close()
                self._sock.close()
            finally:
                self._sock = self._reader = None

    def _short_read(self) -> RespError:
        """Why a reply stopped early: the socket timeout of a hung Redis, or a closed connection."""
        try:
            waiting = self._sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return self._timeout()
        except OSError as exc:
            return RespError(f"{type(exc).__name__}: {exc}")
        return RespClosed("connection closed by Redis") if not waiting else RespError("incomplete reply from Redis")

    def _read_line(self) -> bytes:
        line = self._reader.readline()
        if not line.endswith(b"\r\n"):
            raise self._short_read()
        return line[:-2]

    def _read_reply(self):
        line = self._read_line()
        kind, rest = line[:1], line[1:]
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            data = self._reader.read(size + 2)
            if len(data) != size + 2:
                raise self._short_read()
            return data[:-2]
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self._read_reply() for _ in range(count)]
        if kind in (b"+", b":"):
            return rest
        if kind == b"-":
            raise RespError(f"Redis error: {rest.decode(errors='replace')}")
        raise RespError(f"unexpected Redis reply {line[:40]!r}")

    def hmget_many(self, keys: list[bytes], fields: list[bytes]) -> list[list[bytes | None]]:
        """One HMGET reply per key, in order, in one round trip."""
        # After a timeout the socket was closed, so a connection made now gets the hold-off's short limit.
        limit = self.probe_timeout if time.monotonic() < self.held_until else self.timeout
        commands = b"".join(encode_command(b"HMGET", key, *fields) for key in keys)
        kept = self._sock is not None
        try:
            replies = self._round_trip(commands, len(keys), limit)
        except RespClosed:
            if not kept:
                raise
            replies = self._round_trip(commands, len(keys), limit)  # closed while idle: once on a new connection
        if self.limit != self.timeout:  # Redis answered within the hold-off's limit: it is back
            self.held_until = 0.0
            self._wait_at_most(self.timeout)
        if not all(isinstance(r, list) and len(r) == len(fields) for r in replies):
            raise RespError("HMGET reply does not match the requested fields")
        return replies

    def _round_trip(self, commands: bytes, count: int, limit: float) -> list:
        try:
            if self._sock is None:
                self._connect(limit)
            self._sock.sendall(commands)
            return [self._read_reply() for _ in range(count)]
        except RespError as exc:  # a reply that did not come whole (``_short_read``), or a Redis error
            self.close()
            if isinstance(exc, RespTimeout):
                self._hold_off()
            raise
        except (BlockingIOError, TimeoutError) as exc:  # SO_SNDTIMEO / connect timeout: a hung Redis
            self.close()
            timeout = self._timeout()
            self._hold_off()
            raise timeout from exc
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as exc:
            self.close()
            raise RespClosed(f"connection closed by Redis ({type(exc).__name__})") from exc
        except (OSError, ValueError) as exc:
            self.close()
            raise RespError(f"{type(exc).__name__}: {exc}") from exc

    def _hold_off(self) -> None:
        """A timeout with the whole limit starts a hold-off; one with the hold-off's limit does not extend
        it, so a Redis slower than ``probe_timeout`` is asked with the whole limit again when it ends."""
        if self.limit == self.timeout:
            self.held_until = time.monotonic() + self.hold_off
