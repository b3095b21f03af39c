"""Read one feature view's rows from Feast's online store, below ``get_online_features``.

``get_online_features`` costs ~0.5 ms per entity, most of it request planning above the store read.
These readers plan once at start-up (field names, key prefix, connection) and per request only
serialize the entity keys and decode the values. A plain Redis gets pipelined HMGETs on one
persistent connection with bounded timeouts (resp_client.py), at the keys and hash fields of Feast's
Redis layout, which Feast documents as part of its public API ("Feast Online Store Format",
docs/specs/online_store_format.md in Feast's repository). Feast has no public function that names
those keys and fields (its own are private methods of ``RedisOnlineStore``), so ``redis_hash_fields``
computes them from the spec, and a test compares them with what Feast itself writes into a real
Redis (tests/serving/test_feast_parity.py). Any other store goes through its public
``OnlineStore.online_read``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from components.serving.resp_client import RespConnection, RespError

# A row: (event time in unix seconds, or None when unknown) and one value per feature (None if unset).
Row = tuple[float | None, list[float | None]]

REDIS_TIMEOUT_SECONDS = 0.2  # a down or hung Redis costs a request at most this, then a 503
KEY_CACHE_SIZE = 100_000


class StoreUnavailable(RuntimeError):
    """The online store did not answer."""


class FeatureViewReader(Protocol):
    store_type: str

    def read(self, entity_ids: list[Any]) -> list[Row]: ...


def _proto_number(value) -> float | None:
    kind = value.WhichOneof("val")
    return None if kind is None or kind == "null_val" else float(getattr(value, kind))


def entity_key_maker(join_key: str, value_type, version: int) -> Callable[[Any], bytes]:
    """Feast's serialized entity key for one id, memoized: the same customers come back all day."""
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value as ValueProto
    from feast.type_map import python_values_to_proto_values
    from feast.value_type import ValueType

    @lru_cache(maxsize=KEY_CACHE_SIZE)
    def key(entity_id) -> bytes:
        value = (ValueProto(int64_val=int(entity_id)) if value_type == ValueType.INT64
                 else python_values_to_proto_values([entity_id], value_type)[0])
        proto = EntityKey(join_keys=[join_key], entity_values=[value])
        return serialize_entity_key(proto, entity_key_serialization_version=version)
    return key


def redis_hash_fields(view_name: str, names: list[str]) -> list[bytes]:
    """The hash fields Feast's Redis layout gives ``names`` of the view stored as ``view_name``, then its
    event-time field: murmur3_32 (unsigned, 4 bytes little-endian) of ``"<view>:<feature>"`` per
    feature, and ``_ts:<view>``."""
    import mmh3

    return [*(struct.pack("<I", mmh3.hash(f"{view_name}:{name}", signed=False)) for name in names),
            f"_ts:{view_name}".encode()]


def stored_view_name(view, config) -> str:
    """The name a view's rows are stored under: its name, ``<name>_v<N>`` when the registry enables
    online feature view versioning (Feast's public ``compute_versioned_name``)."""
    from feast.infra.online_stores.helpers import compute_versioned_name

    return compute_versioned_name(view, config.registry.enable_online_feature_view_versioning)


class FeastOnlineReader:
    """Any Feast online store, through ``OnlineStore.online_read`` with the request plan made once."""

    def __init__(self, store, view, entity, names: list[str]):
        self.config, self.view, self.names = store.config, view, names
        from feast.infra.online_stores.helpers import get_online_store_from_config

        # The store class the config names (what Feast's provider instantiates), without the provider.
        self.online_store = get_online_store_from_config(store.config.online_store)
        self.store_type = str(store.config.online_store.type)
        from feast.protos.feast.types.EntityKey_pb2 import EntityKey
        from feast.protos.feast.types.Value_pb2 import Value as ValueProto
        from feast.type_map import python_values_to_proto_values
        from feast.value_type import ValueType

        def proto(entity_id):
            value = (ValueProto(int64_val=int(entity_id)) if entity.value_type == ValueType.INT64
                     else python_values_to_proto_values([entity_id], entity.value_type)[0])
            return EntityKey(join_keys=[entity.join_key], entity_values=[value])
        self._proto = proto

    def read(self, entity_ids: list[Any]) -> list[Row]:
        keys = [self._proto(i) for i in entity_ids]
        try:
            found = self.online_store.online_read(self.config, self.view, keys, list(self.names))
        except Exception as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
        rows: list[Row] = []
        for event_time, values in found:
            if values is None:
                rows.append((None, [None] * len(self.names)))
                continue
            seconds = event_time.timestamp() if isinstance(event_time, datetime) else None
            rows.append((seconds, [_proto_number(values[n]) if n in values else None for n in self.names]))
        return rows


class RedisReader:
    """Feast's Redis layout read directly: key = serialized entity key + project, one hash per entity,
    fields = Feast's hashed feature names plus the view's timestamp field."""

    store_type = "redis"

    def __init__(self, store, view, entity, names: list[str], connection: RespConnection):
        from feast.protos.feast.types.Value_pb2 import Value as ValueProto
        from google.protobuf.timestamp_pb2 import Timestamp

        config = store.config
        self.fields = redis_hash_fields(stored_view_name(view, config), list(names))
        self.names, self.connection, project = names, connection, config.project.encode()
        entity_key = entity_key_maker(entity.join_key, entity.value_type, config.entity_key_serialization_version)
        self.key = lambda entity_id: entity_key(entity_id) + project  # the entity's hash key
        self._timestamp, self._value = Timestamp, ValueProto

    def _decode(self, reply: list[bytes | None]) -> Row:
        *values, stamp = reply
        if stamp is None:
            return None, [None] * len(self.names)
        event_time = self._timestamp.FromString(stamp)
        return (event_time.seconds + event_time.nanos / 1e9,
                [None if raw is None else _proto_number(self._value.FromString(raw)) for raw in values])

    def read(self, entity_ids: list[Any]) -> list[Row]:
        keys = [self.key(i) for i in entity_ids]
        try:
            replies = self.connection.hmget_many(keys, self.fields)
        except RespError as exc:
            raise StoreUnavailable(str(exc)) from exc
        return [self._decode(reply) for reply in replies]


def parse_connection_string(text: str) -> tuple[list[tuple[str, int]], dict[str, str]]:
    """Feast's Redis connection string (``host:port[,host:port],key=value,...``): nodes and options."""
    nodes, options = [], {}
    for part in text.split(","):
        if "=" in part:
            key, value = part.split("=", 1)
            options[key.strip()] = value.strip()
        elif part.strip():
            host, _, port = part.strip().rpartition(":")
            nodes.append((host, int(port)))
    return nodes, options


def resp_connection(online_config) -> RespConnection | None:
    """A direct connection for a plain Redis (host:port, db, ACL user, password); None for anything else,
    which Feast's own client then serves: TLS (``ssl=true``), Cluster, Sentinel and GLIDE set-ups."""
    if online_config.type != "redis" or online_config.redis_type != "redis" or online_config.client != "redis":
        return None
    nodes, options = parse_connection_string(online_config.connection_string)
    if len(nodes) != 1 or set(options) - {"db", "password", "username"}:
        return None
    (host, port), = nodes
    return RespConnection(host, port, int(options.get("db", 0)), options.get("password"), REDIS_TIMEOUT_SECONDS,
                          options.get("username"))


def reader_for(store, view, entity, names: list[str]) -> FeatureViewReader:
    connection = resp_connection(store.config.online_store)
    if connection is not None:
        return RedisReader(store, view, entity, names, connection)
    return FeastOnlineReader(store, view, entity, names)
