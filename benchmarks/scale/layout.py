"""Generated events in the offline store's layout, written chunk by chunk so any size fits in memory.

    <offline uri>/transactions/date=YYYY-MM-DD/part-g<chunk>-0.parquet      labelled events (entity df)
    <offline uri>/customer_spend_stats/date=YYYY-MM-DD/part-g0-0.parquet    the use case's feature table

Timestamps are ``timestamp[us, UTC]``. The fraud generator draws a whole data set in one call; here
each chunk of at most ``CHUNK_ROWS`` events is one call with its own seed (``seed + chunk``), so a
chunk's customers share ids with the other chunks' but not their spending profiles: fine for
measuring cost, and the in-memory and bounded models are compared on the same data.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

CHUNK_ROWS = 1_000_000
EVENTS_TABLE = "transactions"
FEATURE_TABLE = "customer_spend_stats"


def to_microseconds(frame: pd.DataFrame) -> pd.DataFrame:
    """Every timestamp column as datetime64[us, UTC] (Spark 4 and the layout both want microseconds)."""
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    return frame


def write_partitioned(frame: pd.DataFrame, folder: Path, writer: str, timestamp: str = "event_timestamp") -> int:
    """One file per day of ``timestamp`` (append-only: a new writer id never overwrites a file)."""
    days = frame[timestamp].dt.strftime("%Y-%m-%d")
    files = 0
    for day, part in frame.groupby(days, sort=True):
        target = folder / f"date={day}"
        target.mkdir(parents=True, exist_ok=True)
        part.to_parquet(target / f"part-{writer}-0.parquet", index=False)
        files += 1
    return files


def write_events(offline: Path, rows: int, seed: int, generate) -> int:
    """``rows`` generated events under ``offline/transactions``, at most CHUNK_ROWS in memory at a time."""
    files, chunk = 0, 0
    while chunk * CHUNK_ROWS < rows:
        size = min(CHUNK_ROWS, rows - chunk * CHUNK_ROWS)
        events = to_microseconds(generate(size, seed + chunk, None))
        events["transaction_id"] = f"g{chunk}-" + events["transaction_id"]  # unique across chunks
        files += write_partitioned(events, offline / EVENTS_TABLE, f"g{chunk}")
        chunk += 1
    return files


def write_features(offline: Path, build_features, single_file: Path) -> int:
    """The feature table from the events' three columns it needs; also as the single file Feast reads today."""
    events = pd.read_parquet(offline / EVENTS_TABLE, columns=["customer_id", "event_timestamp", "amount"])
    events["event_timestamp"] = events["event_timestamp"].dt.tz_convert("UTC")
    table = to_microseconds(build_features(events))
    del events
    single_file.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(single_file, index=False)
    write_partitioned(table, offline / FEATURE_TABLE, "g0")
    return len(table)
