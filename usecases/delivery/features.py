"""Feast definitions of the delivery-time use case: two views from two sources, one refreshed hourly."""

from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64

restaurant = Entity(name="restaurant", join_keys=["restaurant_id"], value_type=ValueType.INT64,
                    description="A restaurant on the platform.")

restaurant_kitchen_source = FileSource(
    name="restaurant_kitchen_source",
    path="data/restaurant_kitchen_stats.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created_timestamp",
)

restaurant_load_source = FileSource(
    name="restaurant_load_source",
    path="data/restaurant_load.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created_timestamp",
)

# Recomputed daily, stamped on the days the restaurant had orders: a 7-day summary holds for the week
# it covers, so a quiet restaurant keeps its statistics (in training and serving alike) rather than zeros.
restaurant_kitchen_stats = FeatureView(
    name="restaurant_kitchen_stats",
    entities=[restaurant],
    ttl=timedelta(days=7),
    schema=[
        Field(name="orders_7d", dtype=Int64, description="Orders in the last 7 days."),
        Field(name="avg_prep_minutes_7d", dtype=Float64, description="Mean delivery minutes over 7 days."),
    ],
    source=restaurant_kitchen_source,
    online=True,
)

# Recomputed hourly from the order stream: a quiet restaurant simply has no recent row.
restaurant_load = FeatureView(
    name="restaurant_load",
    entities=[restaurant],
    ttl=timedelta(hours=3),
    schema=[Field(name="orders_last_hour", dtype=Int64, description="Orders placed in the last hour.")],
    source=restaurant_load_source,
    online=True,
)

# Versioned contract: a change of features is a new service (delivery_time_v2), never an edit.
delivery_time_v1 = FeatureService(
    name="delivery_time_v1",
    features=[restaurant_kitchen_stats, restaurant_load],
    description="Features of the delivery-time model, version 1.",
)
