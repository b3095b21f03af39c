"""Prediction-log rows for a window of generated traffic, as the predictor would have logged them.

The online store holds each customer's newest offline feature row (what `features.materialize`
loads), so joining those rows to the events and scoring them with the registered model gives the
predictor's log without 1,000s of HTTP requests. The live stack test uses the real predictor.

``fresh_features=True`` gives each event the features a feature job that keeps materializing would
have served it instead: per Feast source, the entity's newest row stamped before the event and
within the view's TTL, built by the use case's own ``build_features`` from the baseline and the
traffic so far. A scenario that shifts a feature (delivery's slower kitchens) shows in those. Orders
for which no view has a row are left out, as the training set leaves them out
(components/build_training_set.py drops rows without any feature), so the window compares like with
like with the version's reference; the predictor itself scores them with defaults.
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime

import pandas as pd

from components.serving.online_features import NO_HISTORY
from components.serving.prediction_log import PredictionLog
from shipyard import data, registry
from shipyard.settings import Settings
from shipyard.usecase import UseCase

SEED = 11  # the seed tests/platform_setup.py trains with: same customers in baseline and traffic
STAMPS = ("event_timestamp", "created_timestamp")


def newest_features(settings: Settings, use_case: UseCase, events: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    offline = data.read_table(settings, data.feature_table(use_case), use_case.timestamp)
    newest = offline.sort_values("event_timestamp").groupby(use_case.entity).tail(1)
    feature_names = [c for c in newest.columns if c not in (use_case.entity, *STAMPS)]
    request = [f.name for f in use_case.request_fields]
    frame = events[request].merge(newest[[use_case.entity, *feature_names]], on=use_case.entity, how="left")
    missing = frame[feature_names].isna().any(axis=1)
    frame[feature_names] = frame[feature_names].fillna(NO_HISTORY)
    return frame, missing


def fresh_features(settings: Settings, use_case: UseCase, events: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    from feast import FeatureView

    module = importlib.import_module(use_case.feature_module)
    ttls = {view.batch_source.name: view.ttl for view in vars(module).values() if isinstance(view, FeatureView)}
    ts, entity = use_case.timestamp, use_case.entity
    baseline = pd.read_parquet(data.events_path(settings))
    history = pd.concat([baseline, events], ignore_index=True)
    history[ts] = pd.to_datetime(history[ts], utc=True).astype("datetime64[ns, UTC]")
    tables = use_case.build_features(history)
    tables = tables if isinstance(tables, dict) else {next(iter(ttls)): tables}
    request = [f.name for f in use_case.request_fields]
    frame = events[request].assign(**{ts: pd.to_datetime(events[ts], utc=True).astype("datetime64[ns, UTC]"),
                                      "_order": range(len(events))}).sort_values(ts, kind="stable")
    missing = pd.Series(False, index=frame.index)
    featureless = pd.Series(True, index=frame.index)
    for source, table in tables.items():
        names = [c for c in table.columns if c not in (entity, *STAMPS)]
        table = table.drop(columns=["created_timestamp"], errors="ignore").astype({ts: "datetime64[ns, UTC]"})
        frame = pd.merge_asof(frame, table.sort_values(ts), on=ts, by=entity, tolerance=ttls[source],
                              allow_exact_matches=True, direction="backward")
        missing |= frame[names].isna().any(axis=1).to_numpy()
        featureless &= frame[names].isna().all(axis=1).to_numpy()
    frame = frame.assign(_missing=missing.to_numpy(), _featureless=featureless.to_numpy()).sort_values("_order")
    frame = frame[~frame.pop("_featureless")]
    missing = frame.pop("_missing").reset_index(drop=True)
    frame = frame.drop(columns=[ts]).reset_index(drop=True)
    return frame.fillna(NO_HISTORY), missing


def logged_rows(settings: Settings, use_case: UseCase, events: pd.DataFrame, version: int = 1,
                fresh: bool = False) -> pd.DataFrame:
    frame, missing = (fresh_features if fresh else newest_features)(settings, use_case, events)
    if "_order" in frame.columns:  # fresh features: only the events that kept a row
        events = events.iloc[frame.pop("_order").to_numpy()]
    model = registry.load_sklearn_model(settings, use_case.model_name, version)
    columns = registry.input_columns(settings, use_case.model_name, version)
    score = (model.predict(frame[columns]) if use_case.is_regression
             else model.predict_proba(frame[columns])[:, 1])
    return frame.assign(request_id=events[use_case.event_id].to_numpy(), timestamp=datetime.now(UTC).isoformat(),
                        model_version=version, features_missing=missing.to_numpy(), score=score)


def write_log(settings: Settings, rows: pd.DataFrame) -> None:
    log = PredictionLog(settings.prediction_log_dir)
    try:
        log.append(rows.to_dict("records"))
    finally:
        log.close()
