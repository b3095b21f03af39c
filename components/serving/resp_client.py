"""The smallest Redis client the feature read needs: pipelined HMGET over one persistent socket.

redis-py spends ~70 µs of Python per command (connection pool, command objects, reply parsing
layers) on top of a ~25 µs loopback round trip; this speaks RESP directly. Any socket or protocol
error closes the connection and raises ``ConnectionError``; the next call connects again, so the
reader recovers by itself when Redis is back.

- A kept-alive connection that Redis closed since the last call (its idle ``timeout`` setting, a
  restart, ``CLIENT KILL``) is found closed when the reply should come: the read is sent again, once,
  on a new connection (HMGET reads, so asking twice changes nothing). A new connection that fails is
  not retried.
- A Redis that does not answer within ``timeout`` (hung, not down) is not asked again for
  ``hold_off`` seconds: calls in between fail at once with the same timeout message. The read is
  synchronous on the server's event loop, so without this every queued request (liveness probes too)
  waited one more ``timeout`` in turn; the price is up to ``hold_off`` of refusals after Redis wakes.
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
                 username: str | None = None, hold_off: float = 1.0):
        self.address, self.db, self.password, self.timeout = (host, port), db, password, timeout
        self.username = username  # a Redis 6 ACL user; without it AUTH is the default user's password
        self.hold_off = hold_off  # after a timeout, seconds without asking Redis (module docstring)
        self.held_until = 0.0  # time.monotonic() before which calls fail without asking
        self._sock: socket.socket | None = None
        self._reader = None

    def _connect(self) -> None:
        sock = socket.create_connection(self.address, timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Kernel-side timeouts on a blocking socket: Python's own timeout mode adds a poll() per call.
        seconds = int(self.timeout)
        limit = struct.pack("ll", seconds, int((self.timeout - seconds) * 1e6))
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, limit)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, limit)
        self._sock, self._reader = sock, sock.makefile("rb")
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
            return RespTimeout(f"timeout: Redis did not answer within {self.timeout:g} s")
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
        if time.monotonic() < self.held_until:
            raise RespTimeout(f"timeout: Redis did not answer within {self.timeout:g} s; not asked again for "
                            f"{self.hold_off:g} s")
        commands = b"".join(encode_command(b"HMGET", key, *fields) for key in keys)
        kept = self._sock is not None
        try:
            replies = self._round_trip(commands, len(keys))
        except RespClosed:
            if not kept:
                raise
            replies = self._round_trip(commands, len(keys))  # closed while idle: once on a new connection
        if not all(isinstance(r, list) and len(r) == len(fields) for r in replies):
            raise RespError("HMGET reply does not match the requested fields")
        return replies

    def _round_trip(self, commands: bytes, count: int) -> list:
        try:
            if self._sock is None:
                self._connect()
            self._sock.sendall(commands)
            return [self._read_reply() for _ in range(count)]
        except RespError as exc:  # a reply that did not come whole (``_short_read``), or a Redis error
            self.close()
            if isinstance(exc, RespTimeout):
                self.held_until = time.monotonic() + self.hold_off
            raise
        except (BlockingIOError, TimeoutError) as exc:  # SO_SNDTIMEO / connect timeout: a hung Redis
            self.close()
            self.held_until = time.monotonic() + self.hold_off
            raise RespTimeout(f"timeout: Redis did not answer within {self.timeout:g} s") from exc
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as exc:
            self.close()
            raise RespClosed(f"connection closed by Redis ({type(exc).__name__})") from exc
        except (OSError, ValueError) as exc:
            self.close()
            raise RespError(f"{type(exc).__name__}: {exc}") from exc
