"""The fast Redis reader returns what Feast's own `get_online_features` returns.

Random customers from the materialized feature table (present), ids the generator never produces
(missing) and one row written three days before the materialization end (stale: Feast does not
enforce the TTL online, so both return its values and the serving policy flags it afterwards).

The reader computes Feast's Redis keys and hash fields itself, from Feast's documented layout (Feast
has no public function for them): a pinning test compares them with what Feast's own
``write_to_online_store`` puts in Redis, so a change of layout in Feast fails here, not in production.
"""

from __future__ import annotations

import random

import pytest

from components.serving.feature_readers import RedisReader, redis_hash_fields, stored_view_name
from components.serving.online_features import OnlineFeatures
from tests.serving.conftest import SHARED_REDIS, redis_platform_for
from tests.serving.platforms import (
    STALE_CUSTOMER,
    delete_project_keys,
    new_project,
    require_redis,
    write_stale_row,
)
from usecases.fraud import USE_CASE

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def redis_platform(trained_home, prod_services, tmp_path_factory):
    require_redis()
    project = new_project()
    try:
        platform = redis_platform_for(trained_home, prod_services, tmp_path_factory.mktemp("parity") / "home",
                                      SHARED_REDIS, project)
        write_stale_row(platform.settings)
        yield platform
    finally:
        delete_project_keys(SHARED_REDIS, project)


def test_fast_redis_reader_matches_get_online_features(redis_platform):
    online = OnlineFeatures(redis_platform.settings, USE_CASE)
    [plan] = online.plans
    assert isinstance(plan.reader, RedisReader)  # the fast reader, not Feast's client
    store = online.store
    from shipyard import data

    present = data.read_table(redis_platform.settings, data.feature_table(USE_CASE), USE_CASE.timestamp)
    rng = random.Random(7)
    ids = rng.sample(sorted(set(present["customer_id"].astype(int))), 40)
    ids += [rng.randrange(10**12, 2**63 - 1) for _ in range(10)] + [STALE_CUSTOMER]
    rng.shuffle(ids)
    rows = plan.reader.read(ids)
    known = store.get_online_features(features=online.service,
                                      entity_rows=[{"customer_id": i} for i in ids]).to_dict()
    fast_missing = {i for i, (stamp, _) in zip(ids, rows, strict=True) if stamp is None}
    feast_missing = {i for n, i in enumerate(ids) if all(known[name][n] is None for name in plan.names)}
    assert fast_missing == feast_missing
    assert len(fast_missing) >= 10 and STALE_CUSTOMER not in fast_missing
    for n, (_, values) in enumerate(rows):
        if ids[n] not in fast_missing:
            assert values == pytest.approx([known[name][n] for name in plan.names]), ids[n]


def test_reader_keys_and_fields_are_where_feast_writes(redis_platform):
    """One row of a new customer written by Feast itself: the one key it adds is the reader's key for
    that customer, and its hash holds exactly the fields the reader computes for the view (every
    feature and the event time), so the layout the reader assumes is Feast's."""
    import redis

    from shipyard import features

    customer = 900_000_777
    store = features.feature_store(redis_platform.settings)
    online = OnlineFeatures(redis_platform.settings, USE_CASE)
    [plan] = online.plans
    view = store.get_feature_view(plan.view_name)
    client = redis.Redis.from_url(SHARED_REDIS)
    try:
        pattern = f"*{store.config.project}"
        before = set(client.scan_iter(match=pattern, count=1000))
        write_stale_row(redis_platform.settings, customer)
        added = set(client.scan_iter(match=pattern, count=1000)) - before
        stored = set(client.hkeys(plan.reader.key(customer)))
    finally:
        client.close()
    assert added == {plan.reader.key(customer)}
    assert stored == set(redis_hash_fields(stored_view_name(view, store.config), [f.name for f in view.features]))
    assert set(plan.reader.fields) <= stored
    [(stamp, values)] = plan.reader.read([customer])
    assert stamp is not None and values == pytest.approx([{"txn_count_7d": 5, "avg_amount_7d": 80.0,
                                                           "max_amount_7d": 200.0}[n] for n in plan.names])
