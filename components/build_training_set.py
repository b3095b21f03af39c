"""Build the training and holdout sets: labelled events + Feast point-in-time feature join."""

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from shipyard.settings import Settings


@dataclass(frozen=True)
class TrainingSetSummary:
    rows: int
    holdout_rows: int
    dropped_without_label: int
    dropped_without_features: int
    feature_columns: list[str]
    feature_types: dict[str, str] = field(default_factory=dict)  # column -> int|float|category (contract)
    snapshot_time: str = ""  # ISO time of the cutoff: labels and features known then
    data_snapshot: str = ""  # content hash of the events and the offline feature table


def build_training_set(settings: Settings, events_path: str, as_of: str, holdout_fraction: float,
                       train_path: str, holdout_path: str, data_snapshot: str = "") -> TrainingSetSummary:
    """Join the contract's features as of each event, keep labels known at ``as_of``, split by time.

    ``as_of`` (ISO time, or empty for the newest event) is the snapshot time: chargebacks that had not
    arrived by then are unknown, exactly as they would be in production. ``data_snapshot`` (a hash
    from ``components.lineage``, empty to skip) must match the files read: the data is pinned.
    """
    from components.feature_checks import contract_types
    from components.lineage import verify_snapshot
    from shipyard import features
    from shipyard.usecase import load_use_case

    if not 0.0 < holdout_fraction < 0.9:
        raise ValueError(f"holdout_fraction must be in (0, 0.9), got {holdout_fraction}")
    use_case = load_use_case(settings.use_case)
    snapshot = verify_snapshot(data_snapshot, events_path, features.offline_table_path(settings))
    events = pd.read_parquet(events_path)
    cutoff = pd.Timestamp(as_of) if as_of else events[use_case.timestamp].max()
    labelled = events[(events[use_case.timestamp] <= cutoff) & (events["label_available_at"] <= cutoff)]
    request_columns = [f.name for f in use_case.request_fields]
    entity_df = labelled[[use_case.timestamp, *request_columns, use_case.label]]

    store = features.feature_store(settings)
    service, feature_names = features.contract(store, use_case)
    joined = store.get_historical_features(entity_df=entity_df, features=service).to_df()
    # No feature at all: a customer not yet known to the store (as unknown card holders are at serving
    # time) or a row beyond the TTL. Partly missing features are kept for validation to report.
    joined = joined.dropna(subset=feature_names, how="all")
    joined = joined.sort_values(use_case.timestamp, kind="stable").reset_index(drop=True)

    split_at = joined[use_case.timestamp].quantile(1.0 - holdout_fraction)
    train = joined[joined[use_case.timestamp] < split_at]
    holdout = joined[joined[use_case.timestamp] >= split_at]
    for frame, path in ((train, train_path), (holdout, holdout_path)):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path, index=False)
    model_columns = [f.name for f in use_case.model_request_fields] + feature_names
    types = contract_types(store, use_case)
    return TrainingSetSummary(
        rows=len(train), holdout_rows=len(holdout),
        dropped_without_label=len(events) - len(labelled),
        dropped_without_features=len(labelled) - len(joined),
        feature_columns=model_columns,
        feature_types={c: types[c] for c in model_columns}, snapshot_time=cutoff.isoformat(), data_snapshot=snapshot,
    )
