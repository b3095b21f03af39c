"""Late labels (chargebacks) joined to the prediction log, and model quality on the labelled rows.

The label feed is a table with the transaction's id, its label and when the label became known.
A prediction is matched through its request id: callers send the transaction id as the
``x-request-id`` header, which the predictor logs as ``request_id``. A label counts only once it
is available, so the quality of a fresh window is measured on the rows whose labels have arrived.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

LABEL_ID, LABEL_AVAILABLE_AT = "transaction_id", "label_available_at"
REQUEST_ID = "request_id"
ALERT_RATE = 0.01  # the share the fraud team reviews, as in components/evaluate.py
MIN_LABELLED_ROWS, MIN_POSITIVES = 200, 5  # below this, AUC and recall are noise


@dataclass(frozen=True)
class Quality:
    labelled_rows: int
    roc_auc: float
    recall: float  # of the positives, the share in the top ALERT_RATE of scores


def load_label_feed(files: list[Path], label: str) -> pd.DataFrame:
    """Id, label and availability time from event files that carry them (others are skipped)."""
    wanted = [LABEL_ID, label, LABEL_AVAILABLE_AT]
    frames = []
    for path in files:
        if set(wanted) <= set(pq.read_schema(path).names):
            frames.append(pd.read_parquet(path, columns=wanted))
    if not frames:
        return pd.DataFrame(columns=wanted)
    return pd.concat(frames, ignore_index=True).drop_duplicates(LABEL_ID, keep="last")


def join_labels(rows: pd.DataFrame, feed: pd.DataFrame, label: str, now: pd.Timestamp) -> pd.DataFrame:
    """``rows`` with a ``label`` column: the label where it is known by ``now``, else NaN."""
    rows = rows.drop(columns=[label], errors="ignore")
    if REQUEST_ID not in rows.columns or feed.empty:
        return rows.assign(**{label: np.nan})
    known = feed[pd.to_datetime(feed[LABEL_AVAILABLE_AT], utc=True) <= now]
    labels = known.set_index(LABEL_ID)[label]
    return rows.assign(**{label: rows[REQUEST_ID].astype(str).map(labels).astype("Int64")})


def model_quality(scores: pd.Series, labels: pd.Series) -> Quality | None:
    """ROC AUC and recall at the alert rate on the labelled rows, or None when too few are labelled."""
    from sklearn.metrics import roc_auc_score

    known = labels.notna() & scores.notna()
    truth, score = labels[known].astype(int).to_numpy(), scores[known].astype(float).to_numpy()
    if len(truth) < MIN_LABELLED_ROWS or truth.sum() < MIN_POSITIVES or truth.sum() == len(truth):
        return None
    alerts = score >= np.quantile(score, 1.0 - ALERT_RATE)
    return Quality(len(truth), float(roc_auc_score(truth, score)), float(alerts[truth == 1].mean()))
