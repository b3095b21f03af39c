"""Feast definitions of the fraud use case: the single feature contract of training and serving.

The offline source path is relative: Shipyard opens the store with its repo path set to
``$SHIPYARD_HOME/feast``, where ``shipyard data generate`` writes the table.
"""

from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64

customer = Entity(
    name="customer",
    join_keys=["customer_id"],
    value_type=ValueType.INT64,
    description="A card holder.",
)

customer_spend_source = FileSource(
    name="customer_spend_source",
    path="data/customer_spend_stats.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created_timestamp",
)

# Recomputed daily by the batch job; a row older than two days means the job has stopped.
customer_spend_stats = FeatureView(
    name="customer_spend_stats",
    entities=[customer],
    ttl=timedelta(days=2),
    schema=[
        Field(name="txn_count_7d", dtype=Int64, description="Transactions in the last 7 days."),
        Field(name="avg_amount_7d", dtype=Float64, description="Mean amount over the last 7 days."),
        Field(name="max_amount_7d", dtype=Float64, description="Largest amount in the last 7 days."),
    ],
    source=customer_spend_source,
    online=True,
)

# Versioned contract: a change of features is a new service (fraud_model_v2), never an edit.
fraud_model_v1 = FeatureService(
    name="fraud_model_v1",
    features=[customer_spend_stats],
    description="Features of the fraud model, version 1.",
)
