"""Benchmark data for the drift job: 20 features, and a prediction log written as the predictor writes it.

Features: the fraud generator's request columns (amount, hour, merchant_category, which the named
scenarios shift) plus 17 unshifted columns drawn from fixed distributions.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from components.serving.prediction_log import SCHEMA, open_location, partition, write_file
from usecases.fraud import data as fraud_data

EXTRA_NUMERICAL = [f"num_{i:02d}" for i in range(14)]
EXTRA_CATEGORICAL = ["channel", "country", "device"]
NUMERICAL = ["amount", "hour", *EXTRA_NUMERICAL]
CATEGORICAL = ["merchant_category", *EXTRA_CATEGORICAL]
FILE_ROWS = 10_000  # what one predictor process writes per batch at most (PredictionLog's flush_rows)


def frame(rows: int, seed: int, scenario: str | None) -> pd.DataFrame:
    """Generator columns plus unshifted extra columns drawn from fixed distributions."""
    base = fraud_data.generate_transactions(rows, seed, scenario)[["amount", "hour", "merchant_category"]]
    rng = np.random.default_rng([seed, rows, 99])
    extra = {name: (rng.lognormal(1 + i % 3, 0.5, rows) if i % 2 else rng.normal(i, 1 + i % 4, rows))
             for i, name in enumerate(EXTRA_NUMERICAL)}
    extra |= {name: rng.choice(["a", "b", "c", "d", "e"][: 3 + i], rows) for i, name in enumerate(EXTRA_CATEGORICAL)}
    return pd.concat([base.reset_index(drop=True), pd.DataFrame(extra)], axis=1)


def log_table(current: pd.DataFrame, start: datetime, end: datetime, first_id: int) -> pa.Table:
    """Rows in the log's schema, timestamps spread evenly over [start, end)."""
    n = len(current)
    micros = np.linspace(start.timestamp() * 1e6, end.timestamp() * 1e6, n, endpoint=False).astype("int64")
    envelope = {
        "request_id": pa.array([f"r{first_id + i}" for i in range(n)], pa.string()),
        "timestamp": pa.array(micros, pa.int64()).cast(SCHEMA.field("timestamp").type),
        "status": pa.array(np.full(n, 200, dtype="int16")),
        "error": pa.nulls(n, pa.string()),
        "model_version": pa.array(np.ones(n, dtype="int32")),
        "score": pa.array(np.zeros(n)),
        "protocol": pa.array(["v1"] * n, pa.string()),
        "features_missing": pa.array(np.zeros(n, dtype=bool)),
        "features_stale": pa.array(np.zeros(n, dtype=bool)),
    }
    return pa.table({**envelope, **{c: pa.array(current[c].to_numpy()) for c in current.columns}})


def write_window(location: str | Path, rows: int, hour: datetime, *, seed: int = 8, scenario: str | None = "normal",
                 amount_scale: float = 1.0, chunk_rows: int = 200_000, replica: str = "bench") -> None:
    """``rows`` predictions spread over the clock hour starting at ``hour``, in files of FILE_ROWS rows.

    Files are written with the predictor's own writer function, so they have its layout and schema.
    """
    fs, root = open_location(location)
    folder = f"{root}/{partition(hour)}"
    written = 0
    while written < rows:
        n = min(chunk_rows, rows - written)
        current = frame(n, seed + written, scenario)
        current["amount"] *= amount_scale
        for offset in range(0, n, FILE_ROWS):
            part = current.iloc[offset:offset + FILE_ROWS]
            first = written + offset
            start = hour + timedelta(hours=1) * (first / rows)
            stop = hour + timedelta(hours=1) * ((first + len(part)) / rows)
            table = log_table(part, start, stop, first)
            write_file(fs, f"{folder}/{replica}-{first // FILE_ROWS:020d}.parquet", table)
        written += n
