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


def build_training_set(settings: Settings, *, as_of: str, training_days: int, evaluation_days: int,
                       label_delay_days: int, reference_fraction: float, train_path: str, holdout_path: str,
                       reference_path: str, data_snapshot: str = "") -> TrainingSetSummary:
    """Read the windows' labelled events, join features as of each event, write the three sets.

    ``as_of`` (ISO time, or empty for when the newest label arrived) is the snapshot time: labels that
    had not arrived by then are unknown, exactly as in production. ``data_snapshot``, when given, must
    equal the content hash of what is read now: a pinned run refuses changed data.
    """
    from components.feature_checks import contract_types
    from components.lineage import SnapshotMismatchError
    from shipyard import data, features
    from shipyard.usecase import load_use_case

    if not 0.0 < reference_fraction < 0.9:
        raise ValueError(f"reference_fraction must be in (0, 0.9), got {reference_fraction}")
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
    labelled = data.read_labelled_events(settings, use_case, span.training[0], span.evaluation[1], cutoff,
                                         [use_case.timestamp, *request_columns])
    if labelled.empty:
        raise ValueError(f"no labelled events in {_span((span.training[0], span.evaluation[1]))} known at "
                         f"{cutoff.isoformat()}: ingest data first (`shipyard data generate`)")

    store = features.feature_store(settings)
    service, feature_names = features.contract(store, use_case)
    entity_df = labelled[[use_case.event_id, use_case.timestamp, *request_columns, use_case.label]]
    joined = store.get_historical_features(entity_df=entity_df, features=service).to_df()
    # No feature at all: an entity not yet known to the store (as unknown card holders are at serving
    # time) or a row beyond the TTL. Partly missing features are kept for validation to report.
    joined = joined.dropna(subset=feature_names, how="all")
    absent = fill_absent_views(joined, service)
    joined = joined.sort_values(use_case.timestamp, kind="stable").reset_index(drop=True)

    recent = joined[use_case.timestamp] >= span.evaluation[0]
    reference = ~recent & _sampled(joined[use_case.event_id], reference_fraction)
    sets = ((joined[~recent & ~reference], train_path), (joined[recent], holdout_path),
            (joined[reference], reference_path))
    for frame, path in sets:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        frame.drop(columns=[use_case.event_id]).to_parquet(path, index=False)
    model_columns = [f.name for f in use_case.model_request_fields] + feature_names
    types = contract_types(store, use_case)
    return TrainingSetSummary(
        rows=len(sets[0][0]), holdout_rows=len(sets[1][0]), reference_rows=len(sets[2][0]),
        dropped_without_features=len(labelled) - len(joined), feature_columns=model_columns,
        feature_types={c: types[c] for c in model_columns}, windows=span.describe(), data_snapshot=snapshot,
        absent_views=absent)


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
