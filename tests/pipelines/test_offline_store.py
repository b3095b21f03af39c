"""The offline store: append-only day partitions, ingestion over time, reads by window."""

import pandas as pd
import pytest

from shipyard import data
from usecases.fraud import USE_CASE
from usecases.fraud.data import BASELINE_DAYS, START, generate_transactions

pytestmark = pytest.mark.integration  # imports Feast to find the feature table's name

DAY = pd.Timedelta(days=1)


def _files(settings):
    """The store's table files (day partitions); the generated world beside them (``data/``) is not a table."""
    return {p.relative_to(data.offline_root(settings)): p.stat().st_mtime_ns
            for p in data.offline_root(settings).rglob("*.parquet") if p.parent.name.startswith("date=")}


def test_baseline_lands_partitioned_by_day_with_only_the_labels_arrived_by_then(shipyard_home):
    data.generate(shipyard_home, USE_CASE, 3_000, 5, None)
    world = pd.read_parquet(data.events_path(shipyard_home))
    clock = START + pd.Timedelta(days=BASELINE_DAYS)
    root = data.offline_root(shipyard_home)
    assert root == shipyard_home.home / "offline"
    days = sorted(p.name for p in (root / data.EVENTS).iterdir())
    assert days[0] == f"date={START:%Y-%m-%d}" and len(days) == BASELINE_DAYS
    part = next((root / data.EVENTS / days[0]).glob("*.parquet"))
    assert part.name == "part-ingest-00000.parquet"
    assert str(pd.read_parquet(part)["event_timestamp"].dtype) == "datetime64[us, UTC]"
    assert "is_fraud" not in pd.read_parquet(part).columns  # labels come later, on their own feed

    labels = data.read_table(shipyard_home, data.LABELS, "label_available_at")  # every label file, unfiltered
    assert len(labels) == (world["label_available_at"] < clock).sum() < len(world)
    assert labels["label_available_at"].max() < clock
    assert len(data.read_labels(shipyard_home, USE_CASE, START + pd.Timedelta(days=20))) < len(labels)
    assert {"transaction_id", "customer_id", "event_timestamp", "is_fraud", "label_available_at"} <= set(labels)
    features = data.read_table(shipyard_home, "customer_spend_stats", "event_timestamp")
    assert features["event_timestamp"].max() < clock and len(features) > 0


def test_ingestion_appends_new_files_and_never_rewrites_old_ones(shipyard_home):
    data.generate(shipyard_home, USE_CASE, 3_000, 5, None)
    before = _files(shipyard_home)
    data.generate(shipyard_home, USE_CASE, 500, 5, "fraud_pattern_shift")
    assert _files(shipyard_home) == before  # scenario traffic has not happened yet for the store
    ingested = data.ingest_scenario(shipyard_home, USE_CASE, "fraud_pattern_shift", pd.Timedelta(days=14))
    after = _files(shipyard_home)
    assert {k: after[k] for k in before} == before
    new = set(after) - set(before)
    assert new and all(p.name.startswith("part-ingest-fraud_pattern_shift-") for p in new)
    assert ingested.events == 500 and ingested.feature_rows > 0

    traffic = pd.read_parquet(data.events_path(shipyard_home, "fraud_pattern_shift"))
    newest_features = data.read_table(shipyard_home, "customer_spend_stats", "event_timestamp")["event_timestamp"]
    assert newest_features.max().floor("D") == traffic["event_timestamp"].max().floor("D")  # recomputed
    with pytest.raises(ValueError, match="must not overlap"):
        data.ingest_scenario(shipyard_home, USE_CASE, "fraud_pattern_shift", pd.Timedelta(days=14))


def test_window_reads_only_events_of_the_window_with_labels_known_at_as_of(shipyard_home):
    data.generate(shipyard_home, USE_CASE, 3_000, 5, None)
    world = generate_transactions(3_000, 5)
    start, end = START + 10 * DAY, START + 20 * DAY
    as_of = START + 25 * DAY
    got = data.read_labelled_events(shipyard_home, USE_CASE, start, end, as_of, ["event_timestamp", "amount"])
    expected = world[(world["event_timestamp"] >= start) & (world["event_timestamp"] < end)
                     & (world["label_available_at"] <= as_of)]
    assert sorted(got["transaction_id"]) == sorted(expected["transaction_id"])
    assert set(got.columns) == {"transaction_id", "event_timestamp", "amount", "is_fraud"}
    assert data.partition_files(shipyard_home, data.EVENTS, start, end) == sorted(
        p for p in data.table_dir(shipyard_home, data.EVENTS).rglob("*.parquet")
        if start.floor("D") <= pd.Timestamp(p.parent.name[5:], tz="UTC") < end)


def test_window_snapshot_is_a_content_hash_that_differs_between_windows(shipyard_home):
    data.generate(shipyard_home, USE_CASE, 3_000, 5, None)
    as_of = START + 41 * DAY
    first = data.window_snapshot(shipyard_home, USE_CASE, START + 10 * DAY, START + 20 * DAY, as_of, 14 * DAY)
    again = data.window_snapshot(shipyard_home, USE_CASE, START + 10 * DAY, START + 20 * DAY, as_of, 14 * DAY)
    later = data.window_snapshot(shipyard_home, USE_CASE, START + 20 * DAY, START + 30 * DAY, as_of, 14 * DAY)
    assert first == again and first != later and first.startswith("sha256:") and len(first) == 71
