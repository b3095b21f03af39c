"""Evaluate a model on the out-of-time holdout, per the use case's task, overall and per segment.

- binary classification: ranking (ROC AUC, PR AUC), alerting (recall at the alert rate), calibration;
- regression: errors in the label's unit (MAE, RMSE, the 90th percentile of the absolute error, the
  pinball loss at 0.9, which a late estimate costs more), R2, and the MAE of a constant prediction
  (the holdout's median) that a model must beat to be worth serving.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

ALERT_RATE = 0.01  # the share of events a review team can look at (alerts)
CALIBRATION_BINS = 10
ROC_POINTS = 50  # enough for the KFP UI's curve, small enough for artifact metadata
MIN_SEGMENT_ROWS = 50
QUANTILE = 0.9  # the regression's tail: the absolute error 90% of estimates stay within
# Metrics where lower is better (the gate and dashboards read the direction from here).
LOWER_IS_BETTER = frozenset({"mae", "rmse", "p90_absolute_error", "pinball_loss_0_9", "baseline_mae",
                             "brier_score", "expected_calibration_error"})


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
                   segment_columns: list[str] | None = None, task: str = "binary_classification") -> dict[str, float]:
    """Classification: ROC AUC, PR AUC, recall when the top ``ALERT_RATE`` of scores alert, calibration.
    Regression: ``regression_metrics``. Both per value of each of ``segment_columns``."""
    if task == "regression":
        truth = frame[label].to_numpy(dtype=float)
        if not len(truth):
            raise ValueError("the holdout has no rows: cannot evaluate")
        predicted = np.asarray(model.predict(frame[feature_columns]), dtype=float)
        metrics = regression_metrics(truth, predicted)
        for column in segment_columns or []:
            metrics.update(regression_segment_metrics(frame[column].astype(str).to_numpy(), truth, predicted, column))
        return metrics
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


def regression_metrics(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Errors in the label's unit; ``baseline_mae`` is what predicting the holdout's median scores."""
    error = predicted - truth
    absolute = np.abs(error)
    spread = float(((truth - truth.mean()) ** 2).sum())
    return {
        "mae": float(absolute.mean()),
        "rmse": float(np.sqrt((error ** 2).mean())),
        "p90_absolute_error": float(np.quantile(absolute, QUANTILE)),
        "pinball_loss_0_9": pinball_loss(truth, predicted, QUANTILE),
        "r2": float(1.0 - (error ** 2).sum() / spread) if spread > 0 else 0.0,
        "mean_error": float(error.mean()),  # the bias: positive when estimates run high
        "baseline_mae": float(np.abs(truth - np.median(truth)).mean()),
        "holdout_rows": float(len(truth)),
        "holdout_label_mean": float(truth.mean()),
    }


def pinball_loss(truth: np.ndarray, predicted: np.ndarray, quantile: float) -> float:
    """Mean quantile loss: an under-estimate costs ``quantile`` per unit, an over-estimate ``1 - quantile``."""
    under = truth - predicted
    return float(np.maximum(quantile * under, (quantile - 1.0) * under).mean())


def regression_segment_metrics(segments: np.ndarray, truth: np.ndarray, predicted: np.ndarray,
                               column: str) -> dict[str, float]:
    """Per value of a categorical column: rows, mean label, and MAE and RMSE when it has enough rows."""
    metrics = {}
    for value in sorted(set(segments)):
        rows = segments == value
        prefix = f"{column}.{_metric_name(value)}"
        metrics[f"{prefix}.rows"] = float(rows.sum())
        metrics[f"{prefix}.label_mean"] = float(truth[rows].mean())
        if rows.sum() >= MIN_SEGMENT_ROWS:
            error = predicted[rows] - truth[rows]
            metrics[f"{prefix}.mae"] = float(np.abs(error).mean())
            metrics[f"{prefix}.rmse"] = float(np.sqrt((error ** 2).mean()))
    return metrics


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


def evaluate_holdouts(model, holdout_path: str, reference_path: str, feature_columns: list[str], label: str,
                      segment_columns: list[str], task: str = "binary_classification") -> tuple[dict, pd.DataFrame]:
    """The pipeline's evaluation: metrics on the recent holdout (plain names) and the reference holdout
    ("reference_" names). Reads only the model's columns and the label of each holdout (never the rest
    of the files); returns the metrics and the recent holdout (for the ROC curve)."""
    needed = list(dict.fromkeys([*feature_columns, *segment_columns, label]))
    holdout = pd.read_parquet(holdout_path, columns=needed)
    results = evaluate_model(model, holdout, feature_columns, label, segment_columns, task=task)
    reference = evaluate_model(model, pd.read_parquet(reference_path, columns=needed), feature_columns, label,
                               task=task)
    results.update({f"reference_{name}": value for name, value in reference.items()})
    return results, holdout
