import pandas as pd
import pytest

from shipyard import data, features
from tests.platform_setup import prepare_platform
from usecases.fraud import USE_CASE

pytestmark = pytest.mark.integration


def test_online_store_serves_the_latest_offline_row_of_each_customer(shipyard_home):
    prepare_platform(shipyard_home, rows=4_000)
    store = features.feature_store(shipyard_home)
    service, names = features.contract(store, USE_CASE)
    assert names == ["txn_count_7d", "avg_amount_7d", "max_amount_7d"]

    offline = data.read_table(shipyard_home, "customer_spend_stats", "event_timestamp")
    latest = offline.sort_values("event_timestamp").groupby("customer_id").tail(1).set_index("customer_id")
    customers = [int(c) for c in latest.index[:5]]
    online = store.get_online_features(features=service, entity_rows=[{"customer_id": c} for c in customers])
    got = pd.DataFrame(online.to_dict()).set_index("customer_id")
    pd.testing.assert_frame_equal(got[names], latest.loc[customers, names], check_dtype=False, check_names=False)

    unknown = store.get_online_features(features=service, entity_rows=[{"customer_id": 10**9}]).to_dict()
    assert all(unknown[name] == [None] for name in names)


def test_apply_registers_the_versioned_feature_service(shipyard_home):
    applied = features.apply(shipyard_home, USE_CASE)
    assert "FeatureService:fraud_model_v1" in applied and "FeatureView:customer_spend_stats" in applied


def test_point_in_time_join_reads_the_day_partitioned_folder(shipyard_home):
    """Feast 0.67's DuckDB offline store over a folder of day partitions: each event gets the newest row
    stamped at or before it, from whichever partition holds it; beyond the view's TTL, nothing."""
    day = pd.Timestamp("2026-09-01", tz="UTC")
    stamps = [day + pd.Timedelta(days=d, hours=23, minutes=59, seconds=59) for d in (0, 1, 2, 2)]
    rows = pd.DataFrame({"customer_id": [1, 1, 1, 2], "event_timestamp": stamps,
                         "txn_count_7d": [1, 2, 3, 7], "avg_amount_7d": [10.0, 20.0, 30.0, 70.0],
                         "max_amount_7d": [10.0, 20.0, 30.0, 70.0]})
    rows["created_timestamp"] = rows["event_timestamp"]
    written = data.write_partitioned(shipyard_home, "customer_spend_stats", rows, "event_timestamp", "test")
    assert len({p.parent for p in written}) == 3  # three day folders
    features.apply(shipyard_home, USE_CASE)
    store = features.feature_store(shipyard_home)
    service, _ = features.contract(store, USE_CASE)
    events = pd.DataFrame({"customer_id": [1, 1, 1, 2, 1],
                           "event_timestamp": [day + pd.Timedelta(hours=12),  # before any row
                                               day + pd.Timedelta(days=1, hours=12),  # day 0's row
                                               day + pd.Timedelta(days=2, hours=23, minutes=59, seconds=59),  # same
                                               day + pd.Timedelta(days=3, hours=1),  # day 2's row
                                               day + pd.Timedelta(days=9)]})  # beyond the 2-day TTL
    joined = store.get_historical_features(entity_df=events, features=service).to_df()
    by_event = {(r.customer_id, r.event_timestamp): r.avg_amount_7d for r in joined.itertuples()}
    values = [by_event[(c, t)] for c, t in zip(events["customer_id"], events["event_timestamp"], strict=True)]
    assert pd.isna(values[0]) and values[1:4] == [10.0, 30.0, 70.0] and pd.isna(values[4])
