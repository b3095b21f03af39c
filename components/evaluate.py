"""Evaluate a model on the out-of-time holdout."""

import numpy as np
import pandas as pd

ALERT_RATE = 0.01  # the share of transactions the fraud team can review


def evaluate_model(model, frame: pd.DataFrame, feature_columns: list[str], label: str) -> dict[str, float]:
    """ROC AUC, PR AUC and recall when the top ``ALERT_RATE`` of scores raise an alert."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    truth = frame[label].to_numpy()
    if truth.min() == truth.max():
        raise ValueError("the holdout has a single class: cannot evaluate ROC AUC")
    scores = model.predict_proba(frame[feature_columns])[:, 1]
    threshold = np.quantile(scores, 1.0 - ALERT_RATE)
    alerts = scores >= threshold
    return {
        "roc_auc": float(roc_auc_score(truth, scores)),
        "pr_auc": float(average_precision_score(truth, scores)),
        "recall_at_alert_rate": float(alerts[truth == 1].mean()),
        "holdout_rows": float(len(frame)),
        "holdout_positive_rate": float(truth.mean()),
    }
