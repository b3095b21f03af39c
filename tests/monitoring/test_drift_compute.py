"""Evidently's decisions on tiny inline data, including the inputs a live log can send."""

import numpy as np
import pandas as pd
import pytest

from monitoring.drift import DriftResult, compute_drift
from monitoring.labels import Quality

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


def test_decisions_near_the_threshold_are_made_again_on_every_row():
    from monitoring.drift import drift_of_window
    from monitoring.window import WindowSample

    reference, full = sample(3_000, 1), sample(20_000, 2, amount_scale=1.12)  # sampled score ~0.10, full ~0.19
    sampled = full.sample(300, random_state=1)
    asked = []

    def read_full(columns):
        asked.append(columns)
        return full[columns]

    drift, exact = drift_of_window(reference, NUM, CAT, WindowSample(sampled, len(full)), sampled, read_full)
    exact_decision = compute_drift(reference, full, ["amount"], [])
    assert exact == asked[0] and "amount" in exact
    assert {f.feature: f for f in drift.features}["amount"] == exact_decision.features[0]
    assert drift.drift_share == sum(f.drifted for f in drift.features) / 3
    # A window that fits in the sample is already exact: nothing is read again.
    _, none = drift_of_window(reference, NUM, CAT, WindowSample(full, len(full)), full, read_full)
    assert none == [] and len(asked) == 1
