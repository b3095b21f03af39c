"""The offline store: append-only, day-partitioned Parquet tables under ``settings.offline_store_uri``.

Layout: ``<uri>/<table>/date=YYYY-MM-DD/part-<writer>-<n>.parquet``, timestamps ``datetime64[us, UTC]``.
Three tables per use case:

- ``events``: the scored traffic (entity, request fields, event time, event id), by event day;
- ``labels``: the late label feed (chargebacks): event id, event time, label and ``label_available_at``,
  partitioned by the day the label arrived;
- the use case's feature table (its Feast FileSource path), by feature timestamp.

Ingestion appends what happened during a period ``[start, end)`` of the world's clock: events that
occurred in it, labels that arrived in it, and the feature rows of the days it completes. Nothing is
ever rewritten, so a file, once written, never changes: a window's content hash is stable.

The generated world (the labelled baseline and each scenario's traffic) is also kept whole under
``settings.data_dir``: it is the simulator's side, what card terminals will send and what the bank
will learn later, replayed by the demo and ingested period by period.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from shipyard.settings import Settings
from shipyard.usecase import UseCase

EVENTS = "events"
LABELS = "labels"
# Every generated event carries its id (the request id when it is scored); the use case names the
# column (``UseCase.event_id``), this is the default's name.
EVENT_ID = "transaction_id"
LABEL_TIME = "label_available_at"
# Feature windows look back this far: recomputing a period reads this much history before it.
FEATURE_LOOKBACK = pd.Timedelta(days=14)


@dataclass(frozen=True)
class Ingested:
    start: pd.Timestamp | None
    end: pd.Timestamp
    events: int
    labels: int
    feature_rows: int


def offline_root(settings: Settings) -> Path:
    """The offline store as a local folder (a file:// URI or a plain path; an RWX volume on a cluster)."""
    return settings.offline_store_path


def table_dir(settings: Settings, table: str) -> Path:
    return offline_root(settings) / table


def events_path(settings: Settings, scenario: str | None = None) -> Path:
    """Under the offline store, so every process that reaches it (a pipeline pod, the monitor's
    retraining) reads the same events, whatever its own home holds."""
    name = "transactions.parquet" if scenario is None else f"traffic-{scenario}.parquet"
    return settings.offline_store_path / "data" / name


def traffic_paths(settings: Settings) -> list[Path]:
    """Every scenario's generated traffic (``events_path``): the late-label feed the monitor joins."""
    pattern = events_path(settings, "*")
    return sorted(pattern.parent.glob(pattern.name))


def generate(settings: Settings, use_case: UseCase, rows: int, seed: int, scenario: str | None) -> Path:
    """Generate the baseline (and ingest it up to its last day) or a scenario's post-baseline traffic.

    The baseline is ingested with the clock at the end of its last day, so chargebacks that arrive
    later are not in the store yet; a scenario's traffic is only written to the world, and reaches
    the store through ``ingest`` when its period has passed.
    """
    settings.ensure_dirs()
    events = use_case.generate(rows, seed, scenario)
    path = events_path(settings, scenario)
    path.parent.mkdir(parents=True, exist_ok=True)
    events.to_parquet(path, index=False)
    if scenario is None:
        ingest(settings, use_case, events, None, period_end(events[use_case.timestamp]))
    return path


def period_end(times: pd.Series) -> pd.Timestamp:
    """Midnight after the last timestamp: the clock once the whole last day has passed."""
    return times.max().floor("D") + pd.Timedelta(days=1)


def ingest(settings: Settings, use_case: UseCase, world: pd.DataFrame, start: pd.Timestamp | None,
           end: pd.Timestamp, writer: str = "ingest") -> Ingested:
    """Append what the world produced during ``[start, end)``: events, arrived labels, feature rows.

    ``start`` None means from the beginning. Periods must not overlap (the store is append-only);
    the caller moves its clock forward from one period to the next.
    """
    ts, label = use_case.timestamp, use_case.label
    end = pd.Timestamp(end)
    newest = newest_label_time(settings)
    if start is not None and newest is not None and newest >= start:
        raise ValueError(f"the offline store already holds labels from {newest.isoformat()}, after the period's "
                         f"start {start.isoformat()}: ingestion periods must not overlap (the store is append-only)")
    after = (lambda s: s >= start) if start is not None else (lambda s: s == s)
    happened = world[after(world[ts]) & (world[ts] < end)]
    arrived = world[after(world[LABEL_TIME]) & (world[LABEL_TIME] < end)]
    write_partitioned(settings, EVENTS, happened.drop(columns=[label, LABEL_TIME]), ts, writer)
    write_partitioned(settings, LABELS, arrived[[use_case.event_id, use_case.entity, ts, label, LABEL_TIME]],
                      LABEL_TIME, writer)
    feature_rows = refresh_features(settings, use_case, start, end, writer)
    return Ingested(start, end, len(happened), len(arrived), feature_rows)


def ingest_scenario(settings: Settings, use_case: UseCase, scenario: str, label_wait: pd.Timedelta) -> Ingested:
    """Time passes after the baseline: the scenario's traffic happens, then ``label_wait`` more, so the
    chargebacks of that traffic (and the baseline's late ones) arrive in the store."""
    baseline = pd.read_parquet(events_path(settings))
    traffic = pd.read_parquet(events_path(settings, scenario))
    start = period_end(baseline[use_case.timestamp])
    end = period_end(traffic[use_case.timestamp]) + label_wait
    return ingest(settings, use_case, pd.concat([baseline, traffic], ignore_index=True), start, end,
                  writer=f"ingest-{scenario}")


def refresh_features(settings: Settings, use_case: UseCase, start: pd.Timestamp | None, end: pd.Timestamp,
                     writer: str = "ingest") -> int:
    """Recompute the feature tables for the days of ``[start, end)`` from the stored events.

    Each event carries its label when the label had arrived by ``end`` (else a null): features may
    summarise outcomes, but only those known when the features were computed.
    """
    from_time = None if start is None else start - FEATURE_LOOKBACK
    history = read_table(settings, EVENTS, use_case.timestamp, from_time, end)
    if history.empty:
        return 0
    known = read_table(settings, LABELS, LABEL_TIME, from_time, end, [use_case.event_id, use_case.label])
    known = known[[use_case.event_id, use_case.label]].drop_duplicates(use_case.event_id)
    history = history.merge(known, on=use_case.event_id, how="left", validate="one_to_one")
    tables = use_case.build_features(history)
    paths = feature_tables(use_case)
    if not isinstance(tables, dict):  # one table: the use case's only Feast source
        (source,) = paths
        tables = {source: tables}
    if unknown := set(tables) - set(paths):
        raise ValueError(f"build_features returned tables for {sorted(unknown)}, which are not Feast sources of "
                         f"the use case (sources: {', '.join(sorted(paths))})")
    stamp = use_case.timestamp
    written = 0
    for source, table in tables.items():
        new = table[(table[stamp] < end) & ((table[stamp] >= start) if start is not None else True)]
        write_partitioned(settings, paths[source], new, stamp, writer)
        written += len(new)
    return written


def feature_tables(use_case: UseCase) -> dict[str, str]:
    """Feast source name -> the offline store table behind it (its path, relative to the store)."""
    from shipyard import features

    return features.source_tables(use_case)


def feature_table(use_case: UseCase) -> str:
    """The offline store table behind the use case's Feast source, for a use case with a single source."""
    paths = sorted(set(feature_tables(use_case).values()))
    if len(paths) != 1:
        raise ValueError(f"use case {use_case.name!r} has {len(paths)} feature tables ({', '.join(paths)}): "
                         "use feature_tables()")
    return paths[0]


def write_partitioned(settings: Settings, table: str, frame: pd.DataFrame, time_column: str,
                      writer: str) -> list[Path]:
    """Append ``frame`` as new files, one per day of ``time_column``; never touches existing files."""
    frame = _microseconds(frame)
    written = []
    for day, rows in frame.groupby(frame[time_column].dt.floor("D"), sort=True):
        folder = table_dir(settings, table) / f"date={day:%Y-%m-%d}"
        folder.mkdir(parents=True, exist_ok=True)
        taken = len(list(folder.glob(f"part-{writer}-*.parquet")))
        path = folder / f"part-{writer}-{taken:05d}.parquet"
        partial = path.with_suffix(".tmp")
        rows.to_parquet(partial, index=False)
        partial.rename(path)  # readers never see a half-written file
        written.append(path)
    return written


def partition_files(settings: Settings, table: str, start: pd.Timestamp | None = None,
                    end: pd.Timestamp | None = None) -> list[Path]:
    """The table's files in the day partitions touching ``[start, end)`` (all when unbounded)."""
    root = table_dir(settings, table)
    found = []
    for folder in sorted(root.glob("date=*")):
        day = pd.Timestamp(folder.name.removeprefix("date="), tz="UTC")
        if (start is None or day + pd.Timedelta(days=1) > start) and (end is None or day < end):
            found.extend(sorted(folder.glob("*.parquet")))
    return found


def read_table(settings: Settings, table: str, time_column: str, start: pd.Timestamp | None = None,
               end: pd.Timestamp | None = None, columns: Iterable[str] | None = None,
               filters: list[tuple] | None = None) -> pd.DataFrame:
    """Rows of ``table`` with ``start <= time_column < end``, reading only the partitions concerned.

    ``filters`` (pyarrow's ``[(column, op, value), ...]``) drop rows while the files are read, before
    they become a DataFrame: a narrow read of a wide partition range stays small."""
    files = partition_files(settings, table, start, end)
    if not files:
        return pd.DataFrame(columns=list(columns) if columns else [])
    wanted = None if columns is None else list(dict.fromkeys([*columns, time_column]))
    frame = pd.concat([pd.read_parquet(f, columns=wanted, filters=filters) for f in files], ignore_index=True)
    keep = pd.Series(True, index=frame.index)
    if start is not None:
        keep &= frame[time_column] >= start
    if end is not None:
        keep &= frame[time_column] < end
    return frame[keep].reset_index(drop=True)


def read_labelled_events(settings: Settings, use_case: UseCase, start: pd.Timestamp, end: pd.Timestamp,
                         as_of: pd.Timestamp, columns: Iterable[str]) -> pd.DataFrame:
    """Events of ``[start, end)`` whose label had arrived by ``as_of``, with that label."""
    ts, event_id = use_case.timestamp, use_case.event_id
    events = read_table(settings, EVENTS, ts, start, end, [event_id, *columns])
    # A label arrives after its event, so only label partitions from the window's start can hold one;
    # of those, only the labels of events in the window are read (a short window stays a small read).
    labels = read_table(settings, LABELS, LABEL_TIME, start, as_of + pd.Timedelta(microseconds=1),
                        [event_id, use_case.label], filters=[(ts, ">=", start), (ts, "<", end)])
    labels = labels[[event_id, use_case.label]].drop_duplicates(event_id)
    events = events.drop_duplicates(event_id)
    return events.merge(labels, on=event_id, how="inner", validate="one_to_one").sort_values(ts, kind="stable")


def read_labels(settings: Settings, use_case: UseCase, arrived_by: pd.Timestamp) -> pd.DataFrame:
    """The label feed as known at ``arrived_by``: event id, entity, event time, label, arrival time."""
    return read_table(settings, LABELS, LABEL_TIME, None, arrived_by + pd.Timedelta(microseconds=1))


def newest_label_time(settings: Settings) -> pd.Timestamp | None:
    """When the newest label arrived: the clock of the last ingestion, as far as training can tell."""
    files = partition_files(settings, LABELS)
    if not files:
        return None
    last = max(f.parent for f in files)
    return max(pd.read_parquet(f, columns=[LABEL_TIME])[LABEL_TIME].max() for f in last.glob("*.parquet"))


def content_hash(files: Iterable[Path], root: Path) -> str:
    """sha256 over each file's place in the store and its bytes: same files, same snapshot id."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(str(path.relative_to(root)).encode())
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return "sha256:" + digest.hexdigest()


def window_snapshot(settings: Settings, use_case: UseCase, start: pd.Timestamp, end: pd.Timestamp,
                    as_of: pd.Timestamp, feature_lookback: pd.Timedelta) -> str:
    """The content hash of every file a training set for ``[start, end)`` known at ``as_of`` reads."""
    files = [*partition_files(settings, EVENTS, start, end),
             *partition_files(settings, LABELS, start, as_of + pd.Timedelta(days=1)),
             *[file for table in sorted(set(feature_tables(use_case).values()))
               for file in partition_files(settings, table, start - feature_lookback, end)]]
    return content_hash(files, offline_root(settings))


def _microseconds(frame: pd.DataFrame) -> pd.DataFrame:
    """Timestamps as microsecond UTC: what Feast's offline stores (DuckDB, Spark) all read."""
    frame = frame.copy()
    for column in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[column]):
            values = frame[column]
            if values.dt.tz is None:
                values = values.dt.tz_localize("UTC")
            frame[column] = values.astype("datetime64[us, UTC]")
    return frame
