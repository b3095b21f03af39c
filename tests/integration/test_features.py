import pandas as pd
import pytest

from shipyard import features
from tests.platform_setup import prepare_platform
from usecases.fraud import USE_CASE

pytestmark = pytest.mark.integration


def test_online_store_serves_the_latest_offline_row_of_each_customer(shipyard_home):
    prepare_platform(shipyard_home, rows=4_000)
    store = features.feature_store(shipyard_home)
    service, names = features.contract(store, USE_CASE)
    assert names == ["txn_count_7d", "avg_amount_7d", "max_amount_7d"]

    offline = pd.read_parquet(features.offline_table_path(shipyard_home))
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
