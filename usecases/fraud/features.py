"""Feast definitions of the fraud use case: the single feature contract of training and serving.

The offline source path is a table of the offline store (``SHIPYARD_OFFLINE_STORE_URI``): a folder of
day partitions (``date=YYYY-MM-DD/part-*.parquet``) that ingestion appends to. Shipyard resolves it
under the store's root when it applies these definitions (shipyard/features.py).
"""

from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.data_format import ParquetFormat
from feast.types import Float64, Int64

customer = Entity(
    name="customer",
    join_keys=["customer_id"],
    value_type=ValueType.INT64,
    description="A card holder.",
)

customer_spend_source = FileSource(
    name="customer_spend_source",
    # The folder itself, not a glob: Feast 0.67's DuckDB offline store hands the path to DuckDB's
    # read_parquet, which reads every file of a partitioned folder (checked for point-in-time joins
    # and TTL in tests/integration/test_features.py). A folder path needs the format said explicitly:
    # Feast only infers Parquet from a ".parquet" suffix.
    path="customer_spend_stats",
    file_format=ParquetFormat(),
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
