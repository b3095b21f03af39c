"""Prediction-log rows for a window of generated traffic, as the predictor would have logged them.

The online store holds each customer's newest offline feature row (what `features.materialize`
loads), so joining those rows to the events and scoring them with the registered model gives the
predictor's log without 1,000s of HTTP requests. The live stack test uses the real predictor.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from components.serving.prediction_log import PredictionLog
from shipyard import data, registry
from shipyard.settings import Settings
from shipyard.usecase import UseCase

SEED = 11  # the seed tests/platform_setup.py trains with: same customers in baseline and traffic


def logged_rows(settings: Settings, use_case: UseCase, events: pd.DataFrame, version: int = 1) -> pd.DataFrame:
    offline = data.read_table(settings, data.feature_table(use_case), use_case.timestamp)
    newest = offline.sort_values("event_timestamp").groupby(use_case.entity).tail(1)
    feature_names = [c for c in newest.columns if c not in (use_case.entity, "event_timestamp", "created_timestamp")]
    request = [f.name for f in use_case.request_fields]
    frame = events[request].merge(newest[[use_case.entity, *feature_names]], on=use_case.entity, how="left")
    missing = frame[feature_names].isna().any(axis=1)
    frame[feature_names] = frame[feature_names].fillna(0.0)
    model = registry.load_sklearn_model(settings, use_case.model_name, version)
    columns = registry.input_columns(settings, use_case.model_name, version)
    return frame.assign(request_id=events["transaction_id"].to_numpy(), timestamp=datetime.now(UTC).isoformat(),
                        model_version=version, features_missing=missing.to_numpy(),
                        score=model.predict_proba(frame[columns])[:, 1])


def write_log(settings: Settings, rows: pd.DataFrame) -> None:
    log = PredictionLog(settings.prediction_log_dir)
    try:
        log.append(rows.to_dict("records"))
    finally:
        log.close()
