"""Evaluation beyond AUC: calibration, per-segment metrics, the curves KFP's UI draws."""

import numpy as np
import pandas as pd
import pytest

from components.evaluate import curves, evaluate_model, expected_calibration_error, segment_metrics

pytestmark = pytest.mark.unit


def test_calibration_error_separates_calibrated_from_overconfident_scores():
    rng = np.random.default_rng(0)
    scores = rng.uniform(0, 1, 20_000)
    truth = (rng.uniform(0, 1, 20_000) < scores).astype(int)  # P(fraud | score) == score
    assert expected_calibration_error(truth, scores) < 0.02
    assert expected_calibration_error(truth, np.clip(scores * 2, 0, 1)) > 0.15


def test_segment_metrics_per_category_value():
    segments = np.array(["fuel"] * 100 + ["travel"] * 100 + ["online"] * 10)
    truth = np.array([0, 1] * 50 + [0] * 90 + [1] * 10 + [1] * 10)
    scores = truth * 0.8 + 0.1
    metrics = segment_metrics(segments, truth, scores, "merchant_category")
    assert metrics["merchant_category.fuel.rows"] == 100
    assert metrics["merchant_category.travel.positive_rate"] == pytest.approx(0.1)
    assert metrics["merchant_category.fuel.roc_auc"] == 1.0
    assert "merchant_category.online.roc_auc" not in metrics  # 10 rows, one class: no AUC claimed


def test_curves_fit_the_kfp_ui():
    rng = np.random.default_rng(1)
    truth = (rng.uniform(size=5_000) < 0.05).astype(int)
    scores = np.clip(truth * 0.3 + rng.uniform(0, 0.7, 5_000), 0, 1)
    shown = curves(truth, scores)
    assert len(shown.fpr) == len(shown.tpr) == len(shown.thresholds) <= 50
    assert all(0.0 <= t <= 1.0 for t in shown.thresholds)  # no +inf in the artifact's JSON
    assert shown.fpr[0] == 0.0 and shown.tpr[-1] == 1.0
    assert sum(map(sum, shown.confusion_matrix)) == 5_000
    assert sum(shown.confusion_matrix[1]) == truth.sum()


def test_evaluate_model_reports_calibration_and_segments():
    class Constant:
        def predict_proba(self, frame):
            p = frame["x"].to_numpy()
            return np.column_stack([1 - p, p])

    frame = pd.DataFrame({"x": [0.1, 0.9] * 100, "cat": ["a", "b"] * 100, "y": [0, 1] * 100})
    metrics = evaluate_model(Constant(), frame, ["x"], "y", segment_columns=["cat"])
    assert metrics["roc_auc"] == 1.0
    assert metrics["brier_score"] == pytest.approx(0.01)
    assert metrics["expected_calibration_error"] == pytest.approx(0.1)
    assert metrics["cat.a.rows"] == 100 and metrics["cat.b.positive_rate"] == 1.0
