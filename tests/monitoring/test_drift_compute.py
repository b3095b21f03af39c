"""Evidently's decisions on tiny inline data, including the inputs a live log can send."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from monitoring.drift import DriftResult, compute_drift
from monitoring.labels import Quality, RegressionQuality

pytestmark = pytest.mark.unit
NUM, CAT = ["amount", "hour"], ["merchant_category"]


def sample(rows: int, seed: int, amount_scale: float = 1.0, mix=(0.5, 0.3, 0.2)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "amount": rng.lognormal(3, 0.6, rows) * amount_scale,
        "hour": rng.integers(0, 24, rows),
        "merchant_category": rng.choice(["grocery", "fuel", "online"], rows, p=list(mix)),
    })


def test_shifted_columns_drift_and_the_others_do_not(tmp_path):
    reference = sample(3_000, 1)
    current = sample(1_500, 2, amount_scale=1.7, mix=(0.2, 0.2, 0.6))
    report = tmp_path / "report.html"
    drift = compute_drift(reference, current, NUM, CAT, report)
    assert {f.feature: f.drifted for f in drift.features} == {"amount": True, "hour": False, "merchant_category": True}
    assert drift.drift_share == pytest.approx(2 / 3)
    assert drift.dataset_drift and drift.skipped == {}
    assert report.stat().st_size > 10_000 and "<html" in report.read_text()[:2000].lower()


def test_same_distribution_does_not_drift():
    drift = compute_drift(sample(3_000, 1), sample(1_500, 3), NUM, CAT)
    assert not any(f.drifted for f in drift.features)
    assert drift.drift_share == 0.0 and not drift.dataset_drift
    assert {(f.method, f.threshold) for f in drift.features} == {("wasserstein", 0.1), ("jensenshannon", 0.1)}


def test_small_windows_keep_effect_size_methods():
    # Evidently would switch to p-value tests under 1,000 rows; the job must not.
    drift = compute_drift(sample(3_000, 1), sample(200, 4), NUM, CAT)
    assert [f.method for f in drift.features] == ["wasserstein", "wasserstein", "jensenshannon"]


def test_prediction_and_target_drift_are_reported_apart_from_the_share():
    rng = np.random.default_rng(5)
    reference = sample(3_000, 1).assign(score=rng.beta(1, 30, 3_000), label=(rng.random(3_000) < 0.02).astype(int))
    current = sample(1_500, 2).assign(score=rng.beta(3, 10, 1_500), label=(rng.random(1_500) < 0.5).astype(int))
    drift = compute_drift(reference, current, NUM, CAT, prediction="score", target="label")
    assert drift.prediction.drifted and drift.prediction.method == "wasserstein"
    assert drift.target.drifted and drift.target.method == "jensenshannon"
    assert drift.drift_share == 0.0  # the share counts model inputs only


def test_an_all_nan_column_and_a_missing_column_are_skipped_and_named():
    current = sample(1_000, 2, amount_scale=2.0).assign(hour=np.nan).drop(columns=["merchant_category"])
    drift = compute_drift(sample(3_000, 1), current, NUM, CAT)
    assert drift.skipped == {"hour": "empty_in_current", "merchant_category": "missing_in_current"}
    assert [(f.feature, f.drifted) for f in drift.features] == [("amount", True)]


def test_unseen_categories_count_as_drift_without_crashing():
    current = sample(1_000, 2).assign(merchant_category=lambda d: d["merchant_category"].replace("online", "crypto"))
    drift = compute_drift(sample(3_000, 1), current, NUM, CAT)
    assert {f.feature: f.drifted for f in drift.features}["merchant_category"]


def test_numbers_sent_as_text_are_compared_as_numbers():
    current = sample(1_000, 3).astype({"amount": str})
    drift = compute_drift(sample(3_000, 1), current, NUM, CAT)
    assert not {f.feature: f.drifted for f in drift.features}["amount"]


def test_no_comparable_input_is_an_error_not_a_silent_pass():
    with pytest.raises(ValueError, match="no model input can be compared"):
        compute_drift(sample(100, 1), pd.DataFrame({"other": [1, 2]}), NUM, CAT)


def test_result_survives_json():
    drift = compute_drift(sample(500, 1).assign(score=0.1), sample(500, 2, 2.0).assign(score=0.3), ["amount"], [],
                          prediction="score")
    result = DriftResult("fraud", 3, 500, 500, drift.features, drift.drift_share, drift.dataset_drift, "r.html",
                         1.0, sampled_rows=500, prediction_drift=drift.prediction,
                         quality=Quality(400, 0.9, 0.5), skipped={"hour": "empty_in_current"})
    assert DriftResult.from_json(result.to_json()) == result
    regression = replace(result, quality=RegressionQuality(400, 4.2, 5.6, 8.9))  # a regression's errors
    assert DriftResult.from_json(regression.to_json()) == regression


def test_decisions_near_the_threshold_are_made_again_on_every_row():
    from monitoring.drift import drift_of_window
    from monitoring.window import WindowSample

    reference, full = sample(3_000, 1), sample(20_000, 2, amount_scale=1.12)  # sampled score ~0.10, full ~0.19
    sampled = full.sample(300, random_state=1)
    asked = []

    def read_full(columns):
        asked.append(columns)
        return (full[columns].iloc[start:start + 3_000] for start in range(0, len(full), 3_000))

    drift, exact = drift_of_window(reference, NUM, CAT, WindowSample(sampled, len(full)), sampled, read_full)
    exact_decision = compute_drift(reference, full, ["amount"], [])
    assert exact == asked[0] and "amount" in exact
    mine, evidently = {f.feature: f for f in drift.features}["amount"], exact_decision.features[0]
    # One pass decides it (the score is far enough from the threshold): Evidently's score within 1e-3.
    assert mine.score == pytest.approx(evidently.score, abs=1e-3) and mine.drifted == evidently.drifted
    assert (mine.method, mine.threshold) == (evidently.method, evidently.threshold)
    assert drift.drift_share == sum(f.drifted for f in drift.features) / 3
    # A window that fits in the sample is already exact: nothing is read again.
    asked.clear()
    _, none = drift_of_window(reference, NUM, CAT, WindowSample(full, len(full)), full, read_full)
    assert none == [] and asked == []


def chunked(frame: pd.DataFrame, size: int):
    def read(columns):
        return (frame[[c for c in columns if c in frame]].iloc[i:i + size] for i in range(0, len(frame), size))
    return read


@pytest.mark.parametrize("scale", [1.0, 1.05, 1.12, 1.7])
def test_streamed_scores_equal_evidently_on_the_whole_window(scale):
    from monitoring.exact_drift import exact_scores

    reference = sample(3_000, 1).assign(amount=lambda d: d["amount"].round(2))  # ties with the reference
    current = sample(25_000, 7, amount_scale=scale, mix=(0.4, 0.4, 0.2)).assign(amount=lambda d: d["amount"].round(2))
    current.loc[:40, "amount"] = np.nan  # dropped, as Evidently drops them
    current.loc[41:60, "hour"] = np.inf
    current = current.astype({"hour": float})
    whole = compute_drift(reference, current, NUM, CAT)
    streamed = exact_scores(reference, chunked(current, 4_000), NUM, CAT)
    for feature in whole.features:
        score, error = streamed[feature.feature]
        assert score == pytest.approx(feature.score, abs=1e-12), feature
        assert error == 0.0


def test_crossed_gaps_are_read_again_and_only_their_values_are_kept():
    from monitoring.exact_drift import StreamingWasserstein

    rng = np.random.default_rng(3)
    reference, current = pd.Series(rng.normal(0, 1, 2_000)), pd.Series(rng.normal(0.02, 1, 100_000))
    stream = StreamingWasserstein(reference)
    for start in range(0, len(current), 10_000):
        stream.add(current[start:start + 10_000])
    crossed = stream.crossed_gaps()
    assert 0 < len(crossed) < 2_001
    stream.add_crossing(current, crossed)
    assert 0 < stream.kept < len(current) / 10  # a small part of the window, not every value
    from scipy.stats import wasserstein_distance
    assert stream.result()[0] == pytest.approx(wasserstein_distance(reference, current) / np.std(reference), abs=1e-12)


def test_a_second_pass_is_read_only_when_the_estimate_could_be_on_either_side_of_the_threshold():
    from monitoring.exact_drift import exact_scores

    reference, current = sample(3_000, 1), sample(25_000, 7, amount_scale=1.12)
    reads = []

    def read(columns):
        reads.append(columns)
        return chunked(current, 5_000)(columns)

    far = exact_scores(reference, read, ["amount"], [], thresholds={"amount": 0.1})
    assert reads == [["amount"]]  # one pass: certain
    score, error = far["amount"]
    assert 0 < error < abs(score - 0.1)
    reads.clear()
    near = exact_scores(reference, read, ["amount"], [], thresholds={"amount": score + error / 2})
    assert reads == [["amount"], ["amount"]] and near["amount"][1] == 0.0  # two passes: exact


def test_values_tied_with_the_reference_need_no_second_pass():
    from monitoring.exact_drift import StreamingWasserstein

    rng = np.random.default_rng(5)
    hours = pd.Series(rng.integers(0, 24, 200_000).astype(float))  # every value sits on a reference point
    stream = StreamingWasserstein(pd.Series(rng.integers(0, 24, 3_000).astype(float)))
    stream.add(hours)
    assert len(stream.crossed_gaps()) == 0  # decided exactly in one pass: nothing kept


def test_beyond_the_value_budget_the_score_is_estimated_within_its_stated_bound():
    from scipy.stats import wasserstein_distance

    from monitoring.exact_drift import StreamingWasserstein

    rng = np.random.default_rng(4)
    reference, current = pd.Series(rng.normal(0, 1, 2_000)), pd.Series(rng.normal(0.02, 1, 100_000))
    stream = StreamingWasserstein(reference, max_values=10)
    stream.add(current)
    stream.add_crossing(current, stream.crossed_gaps())
    score, error = stream.result()
    truth = wasserstein_distance(reference, current) / np.std(reference)
    assert 0 < error < 0.01 and abs(score - truth) <= error
