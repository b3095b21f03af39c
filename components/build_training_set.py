"""Build the training set and two holdouts from the offline store, by time window.

Events and their late labels are read from the offline store (shipyard/data.py) for explicit windows,
never from a caller's file; Feast joins the contract's features as of each event (point in time).

    |<-------- training window -------->|<- evaluation window ->|<- label delay ->|
                                                                                   as_of

- the **recent holdout** is the evaluation window: the newest labelled data, the data the model will
  meet next, and where challenger and champion are compared;
- the **reference holdout** is a fixed share of the training window's events, drawn by event id and
  never trained on: the older pattern, so a model that forgets it entirely is caught.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from shipyard.settings import Settings

# What a feature of a view without a row for the entity is worth: the online predictor's value for an
# unknown or stale entity (components/serving/online_features.NO_HISTORY; a test pins the two equal).
ABSENT_VIEW_VALUE = 0.0


@dataclass(frozen=True)
class Windows:
    as_of: pd.Timestamp  # labels and feature rows known by then
    training: tuple[pd.Timestamp, pd.Timestamp]  # [start, end)
    evaluation: tuple[pd.Timestamp, pd.Timestamp]

    def describe(self) -> dict[str, str]:
        return {"as_of": self.as_of.isoformat(), "training_window": _span(self.training),
                "evaluation_window": _span(self.evaluation)}


def windows(as_of: pd.Timestamp, training_days: int, evaluation_days: int, label_delay_days: int) -> Windows:
    """The evaluation window ends ``label_delay_days`` before ``as_of`` (its labels have had time to
    arrive); the training window ends where the evaluation window starts."""
    for name, days in (("training_days", training_days), ("evaluation_days", evaluation_days)):
        if days < 1:
            raise ValueError(f"{name} must be at least 1, got {days}")
    if label_delay_days < 0:
        raise ValueError(f"label_delay_days must be 0 or more, got {label_delay_days}")
    evaluation_end = as_of - pd.Timedelta(days=label_delay_days)
    evaluation_start = evaluation_end - pd.Timedelta(days=evaluation_days)
    return Windows(as_of, (evaluation_start - pd.Timedelta(days=training_days), evaluation_start),
                   (evaluation_start, evaluation_end))


@dataclass(frozen=True)
class TrainingSetSummary:
    rows: int
    holdout_rows: int  # the recent holdout (evaluation window)
    reference_rows: int
    dropped_without_features: int
    feature_columns: list[str]
    feature_types: dict[str, str] = field(default_factory=dict)  # column -> int|float|category (contract)
    windows: dict[str, str] = field(default_factory=dict)  # as_of, training_window, evaluation_window
    data_snapshot: str = ""  # content hash of every offline-store file the windows read
    absent_views: dict[str, int] = field(default_factory=dict)  # view -> rows it had no row for (filled)
    chunks: int = 0  # Feast point-in-time joins the build made (one per chunk of labelled events)


# Bounded memory: labelled events are read one time slice at a time (a day: the offline store's
# partitions), and each slice goes to Feast's point-in-time join in chunks of at most CHUNK_ROWS
# entity rows; each chunk's result is appended to the three Parquet files and dropped. Peak memory is
# one chunk's join, whatever the window holds. A row's features, its set and its values do not depend
# on the chunking (every row is joined as of its own time; the reference share is drawn by event id).
TIME_SLICE = pd.Timedelta(days=1)
CHUNK_ROWS = 200_000


def build_training_set(settings: Settings, *, as_of: str, training_days: int, evaluation_days: int,
                       label_delay_days: int, reference_fraction: float, train_path: str, holdout_path: str,
                       reference_path: str, data_snapshot: str = "", time_slice: pd.Timedelta | None = TIME_SLICE,
                       chunk_rows: int = CHUNK_ROWS) -> TrainingSetSummary:
    """Read the windows' labelled events, join features as of each event, write the three sets.

    ``as_of`` (ISO time, or empty for when the newest label arrived) is the snapshot time: labels that
    had not arrived by then are unknown, exactly as in production. ``data_snapshot``, when given, must
    equal the content hash of what is read now: a pinned run refuses changed data. ``time_slice``
    (None: both windows at once) and ``chunk_rows`` bound what is in memory at a time.
    """
    from components.feature_checks import contract_types
    from components.lineage import SnapshotMismatchError
    from shipyard import data, features
    from shipyard.usecase import load_use_case

    if not 0.0 < reference_fraction < 0.9:
        raise ValueError(f"reference_fraction must be in (0, 0.9), got {reference_fraction}")
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    use_case = load_use_case(settings.use_case)
    cutoff = _as_of(settings, as_of)
    if label_delay_days == -1:  # the pipeline's default: as long as this use case's labels take
        label_delay_days = use_case.label_delay_days
    span = windows(cutoff, training_days, evaluation_days, label_delay_days)
    snapshot = data.window_snapshot(settings, use_case, span.training[0], span.evaluation[1], cutoff,
                                    data.FEATURE_LOOKBACK)
    if data_snapshot and data_snapshot != snapshot:
        raise SnapshotMismatchError(f"data changed since the run's snapshot {data_snapshot}: now {snapshot}")
    request_columns = [f.name for f in use_case.request_fields]
    store = features.feature_store(settings)
    service, feature_names = features.contract(store, use_case)
    model_columns = [f.name for f in use_case.model_request_fields] + feature_names
    types = contract_types(store, use_case)
    entity_columns = [use_case.event_id, use_case.timestamp, *request_columns, use_case.label]

    paths = {"train": train_path, "holdout": holdout_path, "reference": reference_path}
    writers = _SetWriters(paths, types, use_case)
    labelled_rows, joined_rows, chunks, absent = 0, 0, 0, {}
    try:
        for slice_start, slice_end in _slices(span.training[0], span.evaluation[1], time_slice):
            labelled = data.read_labelled_events(settings, use_case, slice_start, slice_end, cutoff,
                                                 [use_case.timestamp, *request_columns])
            labelled_rows += len(labelled)
            # In time order, ties by event id, before it is cut into chunks: the files' row order is
            # the same whatever the chunking, and the same data gives the same files row for row (the
            # training step's seeded sample then picks the same rows).
            labelled = labelled.sort_values([use_case.timestamp, use_case.event_id], ignore_index=True)
            for first in range(0, len(labelled), chunk_rows):
                entity_df = labelled.iloc[first:first + chunk_rows][entity_columns].reset_index(drop=True)
                joined = store.get_historical_features(entity_df=entity_df, features=service).to_df()
                chunks += 1
                # No feature at all: an entity not yet known to the store (as unknown card holders are
                # at serving time) or a row beyond the TTL. Partly missing features are kept for
                # validation to report.
                joined = joined.dropna(subset=feature_names, how="all")
                for view, filled in fill_absent_views(joined, service).items():
                    absent[view] = absent.get(view, 0) + filled
                joined = joined.sort_values([use_case.timestamp, use_case.event_id], ignore_index=True)
                joined_rows += len(joined)
                recent = joined[use_case.timestamp] >= span.evaluation[0]
                reference = ~recent & _sampled(joined[use_case.event_id], reference_fraction)
                writers.write({"train": joined[~recent & ~reference], "holdout": joined[recent],
                               "reference": joined[reference]})
            del labelled
        if labelled_rows == 0:
            raise ValueError(f"no labelled events in {_span((span.training[0], span.evaluation[1]))} known at "
                             f"{cutoff.isoformat()}: ingest data first (`shipyard data generate`)")
        rows = writers.close()
    except BaseException:
        writers.abort()
        raise
    return TrainingSetSummary(
        rows=rows["train"], holdout_rows=rows["holdout"], reference_rows=rows["reference"],
        dropped_without_features=labelled_rows - joined_rows, feature_columns=model_columns,
        feature_types={c: types[c] for c in model_columns}, windows=span.describe(), data_snapshot=snapshot,
        absent_views=absent, chunks=chunks)


class _SetWriters:
    """The three sets, each one Parquet file written chunk by chunk (pyarrow's ParquetWriter).

    Every chunk is cast to one schema, fixed by the first chunk and the contract, in compact types:
    the contract's int columns as int32 (nullable: a partly missing view stays null for validation),
    its floats as float64 (the values served online, unrounded), timestamps in microseconds, a 0/1
    classification label as int8."""

    def __init__(self, paths: dict[str, str], types: dict[str, str], use_case) -> None:
        self.paths, self.types, self.use_case = paths, types, use_case
        self.schema = None
        self.writers: dict = {}
        self.rows = dict.fromkeys(paths, 0)

    def _schema_of(self, frame: pd.DataFrame):
        import pyarrow as pa

        fields = []
        for name, dtype in frame.dtypes.items():
            kind = self.types.get(name)
            if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(dtype):
                arrow = pa.timestamp("us", tz="UTC")
            elif kind == "int":
                arrow = pa.int32()
            elif kind == "float" or pd.api.types.is_float_dtype(dtype):
                arrow = pa.float64()
            elif kind == "category" or pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
                arrow = pa.string()
            elif name == self.use_case.label and not self.use_case.is_regression:
                arrow = pa.int8()
            elif pd.api.types.is_bool_dtype(dtype):
                arrow = pa.bool_()
            else:
                arrow = pa.int64()
            fields.append(pa.field(name, arrow))
        return pa.schema(fields)

    def write(self, sets: dict[str, pd.DataFrame]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        for name, frame in sets.items():
            frame = frame.drop(columns=[self.use_case.event_id])
            if self.schema is None:
                self.schema = self._schema_of(frame)
            if name not in self.writers:
                Path(self.paths[name]).parent.mkdir(parents=True, exist_ok=True)
                self.writers[name] = pq.ParquetWriter(self.paths[name], self.schema)
            if len(frame):
                table = pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False, safe=True)
                self.writers[name].write_table(table)
                self.rows[name] += len(frame)

    def close(self) -> dict[str, int]:
        """Close the three files (each chunk opened all three, so an empty set is still a file)."""
        for name in list(self.writers):
            self.writers.pop(name).close()
        return self.rows

    def abort(self) -> None:
        for writer in self.writers.values():
            writer.close()
        self.writers.clear()


def _slices(start: pd.Timestamp, end: pd.Timestamp, size: pd.Timedelta | None):
    """``[start, end)`` in consecutive slices of ``size`` (one slice when None)."""
    if size is None:
        yield start, end
        return
    if size <= pd.Timedelta(0):
        raise ValueError(f"time_slice must be positive, got {size}")
    while start < end:
        yield start, min(start + size, end)
        start += size


def fill_absent_views(joined: pd.DataFrame, service) -> dict[str, int]:
    """A view with no row for the entity in its TTL (all its features null) gets ``ABSENT_VIEW_VALUE``
    for each of its features, as the online predictor fills it: a quiet restaurant has no load row.
    A view's row with only some features null is a broken row and stays null for validation to report.
    Returns view name -> rows filled (only views that needed it); ``joined`` is filled in place."""
    filled = {}
    for projection in service.feature_view_projections:
        names = [f.name for f in projection.features]
        absent = joined[names].isna().all(axis=1)
        if absent.any():
            joined.loc[absent, names] = ABSENT_VIEW_VALUE
            filled[projection.name] = int(absent.sum())
    return filled


def _as_of(settings: Settings, as_of: str) -> pd.Timestamp:
    from shipyard import data

    if as_of:
        stamp = pd.Timestamp(as_of)
        return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    newest = data.newest_label_time(settings)
    if newest is None:
        raise ValueError("the offline store has no labels yet: run `shipyard data generate` first")
    return newest


def _sampled(ids: pd.Series, fraction: float) -> pd.Series:
    """A fixed share of events chosen by id: the same event is always in or out, whatever the window."""
    buckets = pd.util.hash_pandas_object(ids.astype(str), index=False).to_numpy() % 10_000
    return pd.Series(buckets < round(fraction * 10_000), index=ids.index)


def _span(bounds: tuple[pd.Timestamp, pd.Timestamp]) -> str:
    return f"{bounds[0].isoformat()}/{bounds[1].isoformat()}"
