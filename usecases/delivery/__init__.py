"""Delivery-time estimation for a food-delivery platform: a regression use case.

Online features come from the Feast FeatureService ``delivery_time_v1`` (features.py): a restaurant's
kitchen statistics (daily) and its current load (hourly). The request carries the restaurant, the
ride's distance, the basket size and the hour; the label, the real delivery time, arrives late.
"""

from shipyard.usecase import DriftScenario, RequestField, UseCase

from . import data

USE_CASE = UseCase(
    name="delivery",
    model_name="delivery",
    entity="restaurant_id",
    feature_service="delivery_time_v1",
    feature_module=f"{__name__}.features",
    request_fields=(
        RequestField("restaurant_id", "int", minimum=0),
        RequestField("distance_km", "float", minimum=0.0, maximum=100.0),
        RequestField("basket_items", "int", minimum=1, maximum=200),
        RequestField("hour", "int", minimum=0, maximum=23),
    ),
    label="delivery_minutes",
    timestamp="event_timestamp",
    generate=data.generate_orders,
    build_features=data.build_restaurant_features,
    scenarios={name: DriftScenario(name, text, shifted) for name, (text, shifted) in data.SCENARIOS.items()},
    task="regression",
    event_id="order_id",
    demo_scenario="suburb_expansion",  # rides beyond any seen in training: the champion's error grows
    label_delay_days=1,  # an order's delivery time is known when it arrives
    max_mae=8.0,  # minutes: an estimate further off than that on average is no use to a customer
)
