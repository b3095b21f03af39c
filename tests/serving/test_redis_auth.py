"""The fast Redis reader on a private redis-server: an ACL user and password (TLS goes to Feast's client), a
connection Redis closed while idle, a hung Redis."""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import redis

from components.serving.feature_readers import parse_connection_string, resp_connection
from components.serving.resp_client import RespConnection, RespError, RespTimeout
from shipyard_cli.processes import free_port, start_redis
from tests.serving.platforms import require

pytestmark = pytest.mark.integration


def online_config(connection_string: str):
    return SimpleNamespace(type="redis", redis_type="redis", client="redis", connection_string=connection_string)


def test_connection_strings_choose_the_fast_reader_or_feasts_client():
    assert parse_connection_string("redis:6379,db=2,username=app,password=a=b") == (
        [("redis", 6379)], {"db": "2", "username": "app", "password": "a=b"})
    fast = resp_connection(online_config("127.0.0.1:6380,db=3,username=app,password=s3cret"))
    assert (fast.address, fast.db, fast.username, fast.password) == (("127.0.0.1", 6380), 3, "app", "s3cret")
    assert resp_connection(online_config("redis:6379,db=0,ssl=true")) is None  # TLS: Feast's client
    assert resp_connection(online_config("a:1,b:2")) is None  # several nodes: Feast's client


def test_acl_user_reads_and_a_wrong_password_is_refused(tmp_path: Path):
    require(shutil.which("redis-server") is not None, "redis-server is not installed")
    port = free_port()
    server = start_redis(port, tmp_path / "redis.log")
    try:
        admin = redis.Redis(port=port)
        admin.execute_command("ACL", "SETUSER", "reader", "on", ">s3cret", "~*", "+hmget", "+auth", "+select")
        admin.hset(b"key", mapping={b"a": b"1"})
        admin.close()
        reader = RespConnection("127.0.0.1", port, password="s3cret", username="reader")
        assert reader.hmget_many([b"key"], [b"a", b"b"]) == [[b"1", None]]
        with pytest.raises(RespError, match="WRONGPASS|invalid username-password"):
            RespConnection("127.0.0.1", port, password="wrong", username="reader").hmget_many([b"key"], [b"a"])
    finally:
        server.stop()


@pytest.fixture
def redis_port(tmp_path: Path):
    require(shutil.which("redis-server") is not None, "redis-server is not installed")
    port = free_port()
    server = start_redis(port, tmp_path / "redis.log")
    admin = redis.Redis(port=port)
    admin.hset(b"key", mapping={b"a": b"1"})
    try:
        yield port, admin, server
    finally:
        admin.close()
        server.stop()


def test_a_connection_redis_closed_while_idle_is_read_again_on_a_new_one(redis_port):
    """Redis's idle ``timeout``, a restart or CLIENT KILL close the kept-alive socket between two reads: the
    next read still answers (before, it failed once with "connection closed by Redis": a 503)."""
    port, admin, _ = redis_port
    reader = RespConnection("127.0.0.1", port)
    assert reader.hmget_many([b"key"], [b"a"]) == [[b"1"]]
    for _ in range(3):
        assert admin.client_kill_filter(_type="normal", skipme=True) >= 1  # the reader's connection
        assert reader.hmget_many([b"key"], [b"a", b"b"]) == [[b"1", None]]


def timed(call):
    started = time.monotonic()
    try:
        return call(), time.monotonic() - started
    except RespTimeout as exc:
        return exc, time.monotonic() - started


def test_a_hung_redis_is_asked_with_a_short_limit_during_the_hold_off(redis_port):
    port, _, server = redis_port
    reader = RespConnection("127.0.0.1", port, hold_off=30.0)
    read = lambda: reader.hmget_many([b"key"], [b"a"])  # noqa: E731
    assert read() == [[b"1"]]
    server.signal(signal.SIGSTOP)
    try:
        first, waited = timed(read)
        assert isinstance(first, RespTimeout) and str(first).endswith("did not answer within 0.2 s"), first
        assert waited >= 0.19
        # Held off: each read waits 0.01 s, not 0.2 s, so the server's event loop is not held timeout after
        # timeout; a timeout then does not extend the hold-off.
        held_until = reader.held_until
        for _ in range(3):
            again, waited = timed(read)
            assert isinstance(again, RespTimeout), again
            assert "within 0.01 s (the limit for 30 s after a 0.2 s timeout)" in str(again), again
            assert waited < 0.15
        assert reader.held_until == held_until
    finally:
        server.signal(signal.SIGCONT)
    # Redis answers again: the first read after it wakes is answered, well inside the 30 s hold-off.
    assert read() == [[b"1"]]
    assert reader.held_until == 0.0
    # ... and the kept connection waits the whole 0.2 s again.
    server.signal(signal.SIGSTOP)
    try:
        late, waited = timed(read)
    finally:
        server.signal(signal.SIGCONT)
    assert isinstance(late, RespTimeout) and str(late).endswith("within 0.2 s"), late
    assert waited >= 0.19
