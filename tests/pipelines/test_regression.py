"""A regression through training: model families, error metrics, the gate (lower error is better), validation."""

import json

import numpy as np
import pandas as pd
import pytest

from components.evaluate import evaluate_model, pinball_loss, regression_metrics
from components.gate import decide_regression, outputs_metrics, paired_bootstrap_errors
from components.train import load_model, predictions_of, save_model, train_model
from components.validate import REGRESSION_CHECKS, validate_training_set

pytestmark = pytest.mark.unit

COLUMNS = ["distance", "basket", "zone"]
LIMITS = {"max_mae": 6.0, "tolerance": 0.01, "max_reference_drop": 0.05}
CHAMPION = {"mae": 4.0, "rmse": 5.0, "baseline_mae": 10.0, "reference_mae": 3.8}


def orders(rows: int, seed: int) -> pd.DataFrame:
    """Minutes grow with distance and basket, and a zone is slower: a target with a learnable structure."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"distance": rng.gamma(2.0, 1.6, rows), "basket": rng.integers(1, 10, rows),
                          "zone": rng.choice(["north", "south", "centre"], rows)})
    slow = np.where(frame["zone"] == "south", 8.0, 0.0)
    frame["minutes"] = 15 + 4.0 * frame["distance"] + 1.5 * frame["basket"] + slow + rng.normal(0, 2.0, rows)
    return frame


def fit(frame: pd.DataFrame, **options):
    return train_model(frame, COLUMNS, ["zone"], "minutes", task="regression", **options)


@pytest.fixture(scope="module")
def data():
    return orders(3_000, 0), orders(1_500, 1), orders(1_500, 2)  # train, recent holdout, reference holdout


def test_regression_families_learn_and_survive_skops(data, tmp_path):
    train, holdout, _ = data
    boosted, linear = fit(train, max_iter=50), fit(train, model_family="linear_regression")
    for model in (boosted, linear):
        metrics = evaluate_model(model, holdout, COLUMNS, "minutes", task="regression")
        assert metrics["mae"] < 0.4 * metrics["baseline_mae"], metrics
    save_model(boosted, tmp_path / "model.skops")
    loaded = load_model(tmp_path / "model.skops")
    assert np.array_equal(predictions_of(loaded, holdout, COLUMNS, "regression"), boosted.predict(holdout[COLUMNS]))
    assert not hasattr(loaded, "predict_proba")  # a regressor, chosen by the task


def test_a_classifier_family_for_a_regression_is_one_clear_error(data):
    with pytest.raises(ValueError, match="model_family must be one of hist_gradient_boosting, linear_regression "
                                         "for a regression, not 'logistic_regression'"):
        fit(data[0], model_family="logistic_regression")


def test_regression_metrics_on_known_errors():
    truth = np.array([10.0, 20.0, 30.0, 40.0])
    predicted = np.array([12.0, 18.0, 30.0, 50.0])  # errors +2, -2, 0, +10
    metrics = regression_metrics(truth, predicted)
    assert metrics["mae"] == pytest.approx(3.5)
    assert metrics["rmse"] == pytest.approx(np.sqrt((4 + 4 + 0 + 100) / 4))
    assert metrics["p90_absolute_error"] == pytest.approx(np.quantile([2, 2, 0, 10], 0.9))
    assert metrics["mean_error"] == pytest.approx(2.5)
    assert metrics["baseline_mae"] == pytest.approx(10.0)  # median 25: |15|, |5|, |5|, |15|
    # late (under-estimated) by 2 costs 0.9 per minute, early by 2 + 10 costs 0.1 per minute
    assert pinball_loss(truth, predicted, 0.9) == pytest.approx((0.2 + 1.8 + 0 + 1.0) / 4)


def test_per_segment_errors_are_named_like_the_classifiers(data):
    train, holdout, _ = data
    metrics = evaluate_model(fit(train, max_iter=50), holdout, COLUMNS, "minutes", ["zone"], task="regression")
    assert {"zone.north.rows", "zone.south.label_mean", "zone.centre.mae", "zone.south.rmse"} <= set(metrics)
    assert metrics["zone.south.label_mean"] > metrics["zone.north.label_mean"] + 5
    assert sum(metrics[f"zone.{z}.rows"] for z in ("north", "south", "centre")) == len(holdout)


def test_first_model_within_the_threshold_is_promoted():
    decision = decide_regression({"mae": 4.0, "rmse": 5.0, "baseline_mae": 10.0}, None, **LIMITS)
    assert decision.decision == "promoted" and "mae 4.0000 <= threshold 6.0" in decision.reason


@pytest.mark.parametrize("candidate, named", [
    ({"mae": 7.0, "rmse": 9.0, "baseline_mae": 10.0}, "mae 7.0000 > threshold 6.0"),
    ({"mae": 5.0, "rmse": 6.0, "baseline_mae": 5.0}, "no better than a constant prediction (baseline_mae 5.0000)")])
def test_above_the_mae_threshold_or_no_better_than_a_constant_is_rejected(candidate, named):
    decision = decide_regression(candidate, None, **LIMITS)
    assert decision.decision == "rejected" and named in decision.reason


def test_lower_error_is_better_and_the_reason_says_by_how_much():
    candidate = {"mae": 3.0, "rmse": 4.0, "baseline_mae": 10.0, "reference_mae": 3.7}
    decision = decide_regression(candidate, CHAMPION, champion_version=2, **LIMITS)
    assert decision.decision == "promoted", decision.reason
    assert decision.moves == pytest.approx({"mae": -1.0, "rmse": -1.0, "reference_mae": -0.1})
    assert "mae 4.0000 -> 3.0000 (-1.0000, -25.00%)" in decision.reason and "champion v2" in decision.reason


def test_worse_regression_is_rejected_naming_the_metrics():
    candidate = {"mae": 4.5, "rmse": 5.02, "baseline_mae": 10.0, "reference_mae": 3.8}
    decision = decide_regression(candidate, CHAMPION, champion_version=2, **LIMITS)
    assert decision.decision == "rejected" and not decision.promote
    assert "mae worse than the champion by more than tolerance 1.0%" in decision.reason
    assert "rmse" not in decision.reason.split(" worse")[0]  # +0.4% RMSE is within tolerance
    assert "mae 4.0000 -> 4.5000 (+0.5000, +12.50%)" in decision.reason


def test_equal_regressions_are_reported_equal():
    decision = decide_regression(dict(CHAMPION), CHAMPION, champion_version=2, **LIMITS)
    assert decision.decision == "equal" and not decision.promote
    assert decision.reason.startswith("equal, champion unchanged: within tolerance 1.0%")
    assert decision.moves == {"mae": 0.0, "rmse": 0.0, "reference_mae": 0.0}


def test_forgetting_the_reference_holdout_is_rejected_even_when_better_on_the_recent_one():
    candidate = {"mae": 3.0, "rmse": 4.0, "baseline_mae": 10.0, "reference_mae": 4.5}
    decision = decide_regression(candidate, CHAMPION, champion_version=2, **LIMITS)
    assert decision.decision == "rejected" and "forgets the older pattern, reference_mae rises" in decision.reason


def test_a_gain_whose_interval_reaches_zero_is_equal():
    candidate = {"mae": 3.8, "rmse": 4.8, "baseline_mae": 10.0, "reference_mae": 3.8}
    chance = {"mae": (-0.4, 0.05), "rmse": (-0.5, 0.1)}
    assert decide_regression(candidate, CHAMPION, **LIMITS, intervals=chance).decision == "equal"
    sure = {"mae": (-0.4, -0.05), "rmse": (-0.5, 0.1)}
    assert decide_regression(candidate, CHAMPION, **LIMITS, intervals=sure).decision == "promoted"


def test_gate_metrics_output_of_a_regression():
    candidate = {"mae": 3.0, "rmse": 4.0, "baseline_mae": 10.0, "reference_mae": 3.7, "r2": 0.8}
    metrics = json.loads(outputs_metrics(candidate, decide_regression(candidate, CHAMPION, **LIMITS)))
    assert metrics["challenger"] == {"mae": 3.0, "rmse": 4.0, "reference_mae": 3.7}
    assert metrics["champion"] == {"mae": 4.0, "rmse": 5.0, "reference_mae": 3.8}
    assert metrics["moves"]["mae"] == pytest.approx(-1.0)


def test_the_gates_decision_on_a_worse_regression_model(data):
    """Real models on the same holdouts: a deliberately weak challenger loses to the champion."""
    train, holdout, reference = data
    champion_model, weak_model = fit(train, max_iter=50), fit(train, max_iter=3, max_leaf_nodes=2)

    def scored(model):
        metrics = evaluate_model(model, holdout, COLUMNS, "minutes", task="regression")
        metrics.update({f"reference_{k}": v for k, v in
                        evaluate_model(model, reference, COLUMNS, "minutes", task="regression").items()})
        return metrics

    champion, weak = scored(champion_model), scored(weak_model)
    assert weak["mae"] < weak["baseline_mae"]  # it passes the absolute checks: only the champion beats it
    intervals = paired_bootstrap_errors(holdout["minutes"].to_numpy(), weak_model.predict(holdout[COLUMNS]),
                                        champion_model.predict(holdout[COLUMNS]), rounds=100)
    assert intervals["mae"][0] > 0  # worse on every resample
    decision = decide_regression(weak, champion, max_mae=None, tolerance=0.01, max_reference_drop=0.05,
                                 champion_version=1, intervals=intervals)
    assert decision.decision == "rejected", decision.reason
    assert decision.moves["mae"] > 0 and decision.moves["rmse"] > 0 and decision.moves["reference_mae"] > 0
    assert f"mae {champion['mae']:.4f} -> {weak['mae']:.4f}" in decision.reason
    # with the reference guard out of the way, the recent holdout alone rejects it
    recent_only = decide_regression(weak, champion, max_mae=None, tolerance=0.01, max_reference_drop=100.0,
                                    champion_version=1, intervals=intervals)
    assert recent_only.decision == "rejected" and "mae, rmse worse than the champion" in recent_only.reason
    same = paired_bootstrap_errors(holdout["minutes"].to_numpy(), champion_model.predict(holdout[COLUMNS]),
                                   champion_model.predict(holdout[COLUMNS]), rounds=20)
    assert same == {"mae": (0.0, 0.0), "rmse": (0.0, 0.0)}
    assert decide_regression(champion, champion, max_mae=None, tolerance=0.01, max_reference_drop=0.05,
                             intervals=same).decision == "equal"


def test_validation_checks_a_regressions_label_spread_not_a_class_balance():
    frame = orders(300, 3)
    result = validate_training_set(frame, ["distance", "basket"], label="minutes", bounds={}, task="regression")
    assert result.passed, result.violations
    report = result.markdown()
    for check in REGRESSION_CHECKS[:6]:
        assert f"| {check} |" in report
    assert "label balance" not in report and "- label minutes: mean" in report
    constant = validate_training_set(frame.assign(minutes=30.0), ["distance"], label="minutes", bounds={},
                                     task="regression")
    assert constant.violations == ["label spread: label 'minutes' is constant (30.0): nothing to learn"]
    text = validate_training_set(frame.assign(minutes="late"), ["distance"], label="minutes", bounds={},
                                 task="regression")
    assert text.violations == ["label spread: label 'minutes' is object, a regression needs a numeric label"]


def test_absent_views_are_filled_as_the_predictor_fills_them_and_broken_rows_stay_null():
    from components.build_training_set import ABSENT_VIEW_VALUE, fill_absent_views
    from components.serving.online_features import NO_HISTORY
    from usecases.delivery.features import delivery_time_v1

    assert ABSENT_VIEW_VALUE == NO_HISTORY
    joined = pd.DataFrame({"orders_7d": [5.0, np.nan, 3.0], "avg_prep_minutes_7d": [20.0, 25.0, 30.0],
                           "orders_last_hour": [np.nan, 2.0, 1.0]})
    filled = fill_absent_views(joined, delivery_time_v1)
    assert filled == {"restaurant_load": 1}
    assert joined["orders_last_hour"].tolist() == [0.0, 2.0, 1.0]
    assert np.isnan(joined.loc[1, "orders_7d"])  # the kitchen row exists but is broken: validation reports it
