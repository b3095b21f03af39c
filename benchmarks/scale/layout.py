"""Generated events in the project's offline store (shipyard/data.py), written chunk by chunk so any size fits.

The store is what ``shipyard data generate`` makes (events, the late labels that had arrived by the end
of the last day, the feature tables), but the generator is called once per chunk of at most
``CHUNK_ROWS`` events, each with its own seed (``seed + chunk``): a chunk's customers share ids with
the other chunks' but not their spending profiles. Fine for measuring cost; the in-memory and bounded
models are compared on the same data.
"""

from __future__ import annotations

import pandas as pd

CHUNK_ROWS = 1_000_000


def write_store(settings, use_case, rows: int, seed: int) -> dict:
    """``rows`` generated events, their labels known at the end of the last day, and the feature tables."""
    import pyarrow.dataset as ds

    from shipyard import data

    ts = use_case.timestamp
    clock = None
    for chunk in range(-(-rows // CHUNK_ROWS)):
        world = use_case.generate(min(CHUNK_ROWS, rows - chunk * CHUNK_ROWS), seed + chunk, None)
        # The clock at the end of the baseline's last day (every chunk spans the same days), as
        # ``shipyard data generate`` ingests: later chargebacks have not arrived.
        clock = clock or data.period_end(world[ts])
        _write_chunk(settings, use_case, world, f"g{chunk}", clock)
        del world
    # The features from the stored events, reading only the columns they are computed from.
    events = ds.dataset(str(data.table_dir(settings, data.EVENTS)), format="parquet")
    history = events.to_table(columns=[use_case.entity, ts, "amount"]).to_pandas()
    tables = use_case.build_features(history)
    del history
    paths = data.feature_tables(use_case)
    if not isinstance(tables, dict):
        (source,) = paths
        tables = {source: tables}
    feature_rows = 0
    for source, table in tables.items():
        data.write_partitioned(settings, paths[source], table[table[ts] < clock], ts, "g0")
        feature_rows += int((table[ts] < clock).sum())
    return {"events": rows, "clock": clock.isoformat(), "feature_rows": feature_rows}


def _write_chunk(settings, use_case, world: pd.DataFrame, writer: str, clock: pd.Timestamp) -> None:
    from shipyard import data

    ts, label = use_case.timestamp, use_case.label
    data.write_partitioned(settings, data.EVENTS, world.drop(columns=[label, data.LABEL_TIME]), ts, writer)
    arrived = world[world[data.LABEL_TIME] < clock]
    data.write_partitioned(settings, data.LABELS,
                           arrived[[use_case.event_id, use_case.entity, ts, label, data.LABEL_TIME]],
                           data.LABEL_TIME, writer)
