"""Evaluate a model on the out-of-time holdout: ranking, alerting, calibration, and per segment."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

ALERT_RATE = 0.01  # the share of events a review team can look at (alerts)
CALIBRATION_BINS = 10
ROC_POINTS = 50  # enough for the KFP UI's curve, small enough for artifact metadata
MIN_SEGMENT_ROWS = 50


@dataclass(frozen=True)
class Curves:
    """What KFP's ClassificationMetrics artifact shows: a ROC curve and the alert confusion matrix."""

    fpr: list[float]
    tpr: list[float]
    thresholds: list[float]
    categories: list[str]
    confusion_matrix: list[list[int]]  # rows: truth, columns: alerted or not, at the alert threshold


def scores_of(model, frame: pd.DataFrame, feature_columns: list[str]) -> np.ndarray:
    return model.predict_proba(frame[feature_columns])[:, 1]


def evaluate_model(model, frame: pd.DataFrame, feature_columns: list[str], label: str,
                   segment_columns: list[str] | None = None) -> dict[str, float]:
    """ROC AUC, PR AUC, recall when the top ``ALERT_RATE`` of scores alert, calibration, per segment."""
    truth = frame[label].to_numpy()
    if truth.min() == truth.max():
        raise ValueError("the holdout has a single class: cannot evaluate ROC AUC")
    scores = scores_of(model, frame, feature_columns)
    metrics = score_metrics(truth, scores)
    for column in segment_columns or []:
        metrics.update(segment_metrics(frame[column].astype(str).to_numpy(), truth, scores, column))
    return metrics


def score_metrics(truth: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    alerts = scores >= alert_threshold(scores)
    return {
        "roc_auc": float(roc_auc_score(truth, scores)),
        "pr_auc": float(average_precision_score(truth, scores)),
        "recall_at_alert_rate": float(alerts[truth == 1].mean()),
        "brier_score": float(brier_score_loss(truth, scores)),
        "expected_calibration_error": expected_calibration_error(truth, scores),
        "holdout_rows": float(len(truth)),
        "holdout_positive_rate": float(truth.mean()),
    }


def alert_threshold(scores: np.ndarray) -> float:
    return float(np.quantile(scores, 1.0 - ALERT_RATE))


def expected_calibration_error(truth: np.ndarray, scores: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Mean |observed rate - mean score| over equal-width score bins, weighted by rows per bin."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(scores, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            error += in_bin.mean() * abs(truth[in_bin].mean() - scores[in_bin].mean())
    return float(error)


def segment_metrics(segments: np.ndarray, truth: np.ndarray, scores: np.ndarray, column: str) -> dict[str, float]:
    """Per value of a categorical column: rows, positive rate, ROC AUC (when both classes are present)."""
    from sklearn.metrics import roc_auc_score

    metrics = {}
    for value in sorted(set(segments)):
        rows = segments == value
        prefix = f"{column}.{_metric_name(value)}"
        metrics[f"{prefix}.rows"] = float(rows.sum())
        metrics[f"{prefix}.positive_rate"] = float(truth[rows].mean())
        if rows.sum() >= MIN_SEGMENT_ROWS and 0 < truth[rows].sum() < rows.sum():
            metrics[f"{prefix}.roc_auc"] = float(roc_auc_score(truth[rows], scores[rows]))
    return metrics


def curves(truth: np.ndarray, scores: np.ndarray) -> Curves:
    from sklearn.metrics import confusion_matrix, roc_curve

    fpr, tpr, thresholds = roc_curve(truth, scores)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(ROC_POINTS, len(fpr))).astype(int))
    alerted = (scores >= alert_threshold(scores)).astype(int)
    matrix = confusion_matrix(truth, alerted, labels=[0, 1])
    return Curves(fpr=[float(v) for v in fpr[keep]], tpr=[float(v) for v in tpr[keep]],
                  thresholds=[float(min(v, 1.0)) for v in thresholds[keep]],  # roc_curve starts at +inf
                  categories=["negative", "positive"], confusion_matrix=matrix.astype(int).tolist())


def _metric_name(value: str) -> str:
    """MLflow metric names allow letters, digits, '_', '-', '.', ' ', ':' and '/'."""
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in value)
