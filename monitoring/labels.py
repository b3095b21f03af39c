"""Late labels joined to the prediction log, and model quality on the labelled rows.

The label feed is a table with the event's id (the use case's ``event_id``: a transaction, an
order), its label and when the label became known (a chargeback, a measured outcome). A prediction is
matched through its request id: callers send the event id as the ``x-request-id`` header, which the
predictor logs as ``request_id``. A label counts only once it is available, so the quality of a
fresh window is measured on the rows whose labels have arrived.

A classification's quality is its ROC AUC and recall at the review rate; a regression's is its
error in the label's unit: mean absolute error, root mean squared error and the 90th percentile of
the absolute error (the error nine predictions in ten stay within).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from shipyard.data import LABEL_TIME

LABEL_AVAILABLE_AT = LABEL_TIME  # the offline store's column (shipyard/data.py)
REQUEST_ID = "request_id"
ALERT_RATE = 0.01  # the share the fraud team reviews, as in components/evaluate.py
MIN_LABELLED_ROWS, MIN_POSITIVES = 200, 5  # below this, AUC, recall and error quantiles are noise
ERROR_QUANTILE = 0.9  # p90_absolute_error, as components/evaluate.py logs it at training


@dataclass(frozen=True)
class Quality:
    labelled_rows: int
    roc_auc: float
    recall: float  # of the positives, the share in the top ALERT_RATE of scores


@dataclass(frozen=True)
class RegressionQuality:
    labelled_rows: int
    mae: float  # in the label's unit
    rmse: float
    p90_absolute_error: float


def quality_from_dict(raw: dict) -> Quality | RegressionQuality:
    """The quality a drift result's JSON holds, of whichever kind it was written."""
    return RegressionQuality(**raw) if "mae" in raw else Quality(**raw)


def load_label_feed(files: list[Path], label: str, event_id: str) -> pd.DataFrame:
    """Id, label and availability time from event files that carry them (others are skipped)."""
    wanted = [event_id, label, LABEL_AVAILABLE_AT]
    frames = []
    for path in files:
        if set(wanted) <= set(pq.read_schema(path).names):
            frames.append(pd.read_parquet(path, columns=wanted))
    if not frames:
        return pd.DataFrame(columns=wanted)
    return pd.concat(frames, ignore_index=True).drop_duplicates(event_id, keep="last")


def join_labels(rows: pd.DataFrame, feed: pd.DataFrame, label: str, now: pd.Timestamp,
                event_id: str, regression: bool = False) -> pd.DataFrame:
    """``rows`` with a ``label`` column: the label where it is known by ``now``, else NaN (a class is
    an integer; a regression's label a float)."""
    rows = rows.drop(columns=[label], errors="ignore")
    if REQUEST_ID not in rows.columns or feed.empty:
        return rows.assign(**{label: np.nan})
    known = feed[pd.to_datetime(feed[LABEL_AVAILABLE_AT], utc=True) <= now]
    labels = known.set_index(event_id)[label]
    joined = rows[REQUEST_ID].astype(str).map(labels)
    return rows.assign(**{label: pd.to_numeric(joined, errors="coerce").astype("float64" if regression else "Int64")})


def model_quality(scores: pd.Series, labels: pd.Series) -> Quality | None:
    """ROC AUC and recall at the alert rate on the labelled rows, or None when too few are labelled."""
    from sklearn.metrics import roc_auc_score

    known = labels.notna() & scores.notna()
    truth, score = labels[known].astype(int).to_numpy(), scores[known].astype(float).to_numpy()
    if len(truth) < MIN_LABELLED_ROWS or truth.sum() < MIN_POSITIVES or truth.sum() == len(truth):
        return None
    alerts = score >= np.quantile(score, 1.0 - ALERT_RATE)
    return Quality(len(truth), float(roc_auc_score(truth, score)), float(alerts[truth == 1].mean()))


def regression_quality(predictions: pd.Series, labels: pd.Series) -> RegressionQuality | None:
    """MAE, RMSE and the 90th percentile of the absolute error on the labelled rows, or None when
    fewer than ``MIN_LABELLED_ROWS`` are labelled."""
    known = labels.notna() & predictions.notna()
    truth = labels[known].astype(float).to_numpy()
    predicted = predictions[known].astype(float).to_numpy()
    if len(truth) < MIN_LABELLED_ROWS:
        return None
    errors = np.abs(predicted - truth)
    return RegressionQuality(len(truth), float(errors.mean()), float(np.sqrt(np.mean(errors ** 2))),
                             float(np.quantile(errors, ERROR_QUANTILE)))
