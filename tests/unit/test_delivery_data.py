"""The delivery-time use case's generator: seeded, late labels, and scenarios that move what they name."""

import numpy as np
import pytest
from scipy.stats import ks_2samp

from usecases.delivery import USE_CASE
from usecases.delivery.data import build_restaurant_features, generate_orders

pytestmark = pytest.mark.unit
REQUEST = ["distance_km", "basket_items", "hour"]


def test_same_seed_same_orders_and_labels_arrive_after_the_order():
    first, second = generate_orders(2000, 5), generate_orders(2000, 5)
    assert first.equals(second)
    assert (first["label_available_at"] > first["event_timestamp"]).all()
    assert first["delivery_minutes"].between(5, 300).all()


@pytest.mark.parametrize("scenario", ["suburb_expansion", "party_season"])
def test_a_scenario_moves_only_the_request_fields_it_names(scenario):
    normal, shifted = generate_orders(20_000, 3, "normal"), generate_orders(20_000, 3, scenario)
    named = set(USE_CASE.scenario(scenario).shifted_columns)
    for column in REQUEST:
        statistic = ks_2samp(normal[column], shifted[column]).statistic
        assert (statistic > 0.15) == (column in named), (column, statistic)


def test_kitchen_slowdown_moves_the_kitchen_feature_and_the_label_only():
    normal, slow = generate_orders(20_000, 3, "normal"), generate_orders(20_000, 3, "kitchen_slowdown")
    for column in REQUEST:
        assert ks_2samp(normal[column], slow[column]).statistic < 0.05
    assert slow["delivery_minutes"].mean() > normal["delivery_minutes"].mean() * 1.2
    prep_normal = build_restaurant_features(normal)["restaurant_kitchen_source"]["avg_prep_minutes_7d"]
    prep_slow = build_restaurant_features(slow)["restaurant_kitchen_source"]["avg_prep_minutes_7d"]
    assert ks_2samp(prep_normal, prep_slow).statistic > 0.15


def test_features_are_known_before_the_orders_they_describe():
    orders = generate_orders(5000, 1)
    tables = build_restaurant_features(orders)
    load = tables["restaurant_load_source"]
    # an hourly row is stamped at the end of its hour: never before the orders it counts
    first_order = orders.groupby(orders["event_timestamp"].dt.floor("h"))["event_timestamp"].min()
    assert (load["event_timestamp"].dt.floor("h").map(first_order) <= load["event_timestamp"]).all()
    assert int(load["orders_last_hour"].sum()) == len(orders)
    kitchen = tables["restaurant_kitchen_source"]
    assert (kitchen["orders_7d"] >= 1).all() and np.isfinite(kitchen["avg_prep_minutes_7d"]).all()
