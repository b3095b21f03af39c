"""The fast Redis reader with an ACL user and password on a private redis-server; TLS goes to Feast's client."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import redis

from components.serving.feature_readers import parse_connection_string, resp_connection
from components.serving.resp_client import RespConnection, RespError
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
