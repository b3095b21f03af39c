import numpy as np
import pandas as pd
import pytest

from usecases.fraud.data import BASELINE_DAYS, CUSTOMERS, START, build_customer_features, generate_transactions

pytestmark = pytest.mark.unit


def test_same_seed_gives_same_events_and_other_seed_does_not():
    first, again = generate_transactions(2_000, seed=3), generate_transactions(2_000, seed=3)
    pd.testing.assert_frame_equal(first, again)
    assert not first["amount"].equals(generate_transactions(2_000, seed=4)["amount"])


def test_baseline_has_rare_fraud_late_labels_and_stays_in_its_period():
    events = generate_transactions(20_000, seed=1)
    assert 0.01 < events["is_fraud"].mean() < 0.02
    assert (events["label_available_at"] > events["event_timestamp"] + pd.Timedelta(hours=23)).all()
    assert events["event_timestamp"].min() >= START
    assert events["event_timestamp"].max() < START + pd.Timedelta(days=BASELINE_DAYS)
    assert events["hour"].between(0, 23).all()
    assert (events["hour"] == events["event_timestamp"].dt.hour).all()


def test_scenario_traffic_follows_the_baseline_with_the_same_customers():
    baseline = generate_transactions(20_000, seed=1)
    traffic = generate_transactions(3_000, seed=1, scenario="normal")
    assert traffic["event_timestamp"].min() >= START + pd.Timedelta(days=BASELINE_DAYS)
    assert set(traffic["customer_id"]) <= set(range(1, CUSTOMERS + 1))
    assert set(traffic["customer_id"]) & set(baseline["customer_id"])


def test_each_scenario_shifts_what_it_names():
    normal = generate_transactions(10_000, seed=2, scenario="normal")
    inflated = generate_transactions(10_000, seed=2, scenario="amount_inflation")
    assert inflated["amount"].median() / normal["amount"].median() == pytest.approx(1.7, rel=0.1)
    mix = generate_transactions(10_000, seed=2, scenario="merchant_mix_shift")
    online_share = lambda frame: frame["merchant_category"].isin(["online", "electronics"]).mean()  # noqa: E731
    assert online_share(mix) > 2 * online_share(normal)
    attack = generate_transactions(10_000, seed=2, scenario="fraud_pattern_shift")
    assert attack["is_fraud"].mean() > 3 * normal["is_fraud"].mean()
    assert (attack["hour"] < 5).mean() > 1.5 * (normal["hour"] < 5).mean()


def test_unknown_scenario_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match="amount_inflation"):
        generate_transactions(10, seed=1, scenario="meteor_strike")


def test_daily_features_cover_exactly_the_last_seven_days_up_to_the_stamp():
    events = generate_transactions(20_000, seed=5)
    features = build_customer_features(events)
    customer = events["customer_id"].value_counts().index[0]
    row = features[features["customer_id"] == customer].iloc[10]
    stamp = row["event_timestamp"]
    window = events[(events["customer_id"] == customer)
                    & (events["event_timestamp"] > stamp.floor("D") - pd.Timedelta(days=6))
                    & (events["event_timestamp"] <= stamp)]
    assert row["txn_count_7d"] == len(window)
    assert row["avg_amount_7d"] == pytest.approx(window["amount"].mean(), abs=0.01)
    assert row["max_amount_7d"] == pytest.approx(window["amount"].max(), abs=0.01)
    assert not features.isna().any().any()
    assert np.all(features["event_timestamp"].dt.hour == 23)
