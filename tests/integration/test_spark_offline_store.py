"""Feast's Spark offline store builds the same training set as the DuckDB offline store.

The fraud use case's Feast definitions (entity, feature view, feature service ``fraud_model_v1``) run
point-in-time joins on both stores over the same Parquet feature table; only the feature view's
batch source changes, because Feast's Spark store reads a ``SparkSource`` (it refuses a
``FileSource``) and the DuckDB store a ``FileSource``. PySpark is not in the default install: the
Spark half runs this file as a script in ``.venv-spark`` (``make spark-venv``), which under CI must
exist (the test fails instead of skipping).

Spark 4 refuses Parquet with nanosecond timestamps, so the tables are written as datetime64[us],
and Spark is told to bind to the loopback address (SPARK_LOCAL_IP=127.0.0.1).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
SPARK_PYTHON = ROOT / ".venv-spark" / "bin" / "python"
SPARK_CONF = {
    "spark.master": "local[1]",
    "spark.ui.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
    "spark.sql.shuffle.partitions": "2",
}


def _source(kind: str, original, path: Path):
    """The feature view's source, with the same name and timestamp columns, for the store ``kind``."""
    if kind == "spark":
        from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource

        return SparkSource(name=original.name, path=str(path), file_format="parquet",
                           timestamp_field=original.timestamp_field,
                           created_timestamp_column=original.created_timestamp_column)
    from feast import FileSource

    return FileSource(name=original.name, path=str(path), timestamp_field=original.timestamp_field,
                      created_timestamp_column=original.created_timestamp_column)


def historical_features(kind: str, folder: Path) -> pd.DataFrame:
    """``get_historical_features`` with the fraud feature service on the ``kind`` offline store."""
    from feast import FeatureStore, FeatureView
    from feast.data_source import DataSource
    from feast.repo_config import RepoConfig

    from shipyard import features
    from shipyard.usecase import load_use_case

    use_case = load_use_case("fraud")
    definitions = []
    for obj in features.definitions(use_case):
        if isinstance(obj, DataSource):
            continue  # the feature view brings its (replaced) source
        if isinstance(obj, FeatureView):
            obj = obj.__copy__()  # Feast's own copy; the use case's module object stays untouched
            obj.batch_source = _source(kind, obj.batch_source, folder / "customer_spend_stats.parquet")
        definitions.append(obj)
    offline = {"type": "spark", "spark_conf": SPARK_CONF} if kind == "spark" else {"type": "duckdb"}
    home = folder / kind
    config = RepoConfig(project="spark_equality", provider="local", registry=str(home / "registry.db"),
                        online_store={"type": "sqlite", "path": str(home / "online.db")},
                        offline_store=offline, entity_key_serialization_version=3, repo_path=str(home))
    home.mkdir(parents=True, exist_ok=True)
    store = FeatureStore(config=config)
    store.apply(definitions)
    entity_df = pd.read_parquet(folder / "entities.parquet")
    service = store.get_feature_service(use_case.feature_service)
    return store.get_historical_features(entity_df=entity_df, features=service).to_df()


def write_inputs(folder: Path) -> pd.DataFrame:
    """A small fraud table from the generator plus edge rows: an event exactly at a feature row's
    timestamp, one before any feature, one past the view's TTL and an unknown customer."""
    from usecases.fraud.data import build_customer_features, generate_transactions

    events = generate_transactions(3_000, seed=21)
    table = build_customer_features(events)
    first = table.iloc[0]
    edges = pd.DataFrame({
        "customer_id": [first.customer_id, first.customer_id, first.customer_id, 999_999],
        "event_timestamp": [first.event_timestamp, first.event_timestamp - pd.Timedelta(seconds=1),
                            table.event_timestamp.max() + pd.Timedelta(days=3), first.event_timestamp],
    })
    entities = pd.concat([events[["customer_id", "event_timestamp", "amount"]].iloc[::7], edges],
                         ignore_index=True)
    entities["amount"] = entities["amount"].fillna(1.0)
    for frame in (table, entities):
        for column in ("event_timestamp", "created_timestamp"):
            if column in frame:
                frame[column] = frame[column].astype("datetime64[us, UTC]")
    table.to_parquet(folder / "customer_spend_stats.parquet", index=False)
    entities.to_parquet(folder / "entities.parquet", index=False)
    return entities


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True).astype("datetime64[us, UTC]")
    frame["txn_count_7d"] = frame["txn_count_7d"].astype("Float64")
    frame = frame[sorted(frame.columns)]
    return frame.sort_values(["customer_id", "event_timestamp", "amount"]).reset_index(drop=True)


@pytest.mark.integration
@pytest.mark.timeout(900)
@pytest.mark.slow  # starts a Spark session: `make test-slow`
def test_spark_and_duckdb_offline_stores_build_the_same_training_set(tmp_path):
    from tests.conftest import fail_in_ci_else_skip  # here: this file also runs as a script in .venv-spark

    if not SPARK_PYTHON.exists():
        fail_in_ci_else_skip("the Spark virtualenv .venv-spark is missing: run `make spark-venv`")
    entities = write_inputs(tmp_path)
    duckdb_rows = historical_features("duckdb", tmp_path)
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYTHONPATH": str(ROOT), "PYSPARK_PYTHON": str(SPARK_PYTHON)}
    done = subprocess.run([str(SPARK_PYTHON), __file__, str(tmp_path)], env=env, capture_output=True, text=True,
                          timeout=800, start_new_session=True)
    assert done.returncode == 0, done.stderr[-3000:]
    spark_rows = pd.read_parquet(tmp_path / "spark-rows.parquet")

    assert len(spark_rows) == len(duckdb_rows) == len(entities)
    spark, duck = _canonical(spark_rows), _canonical(duckdb_rows)
    assert list(spark.columns) == list(duck.columns)
    pd.testing.assert_frame_equal(spark, duck, check_dtype=False, check_exact=False, rtol=1e-9)
    # The point-in-time semantics both agree on, on the edge rows: a feature row counts from its own
    # timestamp on; nothing before the first row, past the TTL, or for an unknown customer.
    table = pd.read_parquet(tmp_path / "customer_spend_stats.parquet").iloc[0]
    first = duck[(duck.customer_id == table.customer_id) & (duck.event_timestamp == table.event_timestamp)]
    assert first["txn_count_7d"].tolist() == [table.txn_count_7d]
    before = duck[(duck.customer_id == table.customer_id)
                  & (duck.event_timestamp == table.event_timestamp - pd.Timedelta(seconds=1))]
    assert before["txn_count_7d"].isna().all() and len(before) == 1
    assert duck[duck.customer_id == 999_999]["txn_count_7d"].isna().all()
    assert duck["event_timestamp"].max() > pd.Timestamp(table.event_timestamp) and duck.iloc[-1:].isna().any(axis=None)
    assert duck["txn_count_7d"].notna().sum() > len(duck) // 2


if __name__ == "__main__":  # run by .venv-spark's interpreter: the Spark half of the comparison
    target = Path(sys.argv[1])
    historical_features("spark", target).to_parquet(target / "spark-rows.parquet", index=False)
