"""Contract checks beyond the frame: types, feature freshness and training/serving skew."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from components.feature_checks import FeatureFreshness, SkewSample
from components.validate import CHECKS, check_freshness, check_skew, validate_training_set

pytestmark = pytest.mark.unit

TYPES = {"amount": "float", "merchant_category": "category", "hour": "int"}


def frame(rows: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"amount": rng.uniform(1, 100, rows), "merchant_category": rng.choice(["a", "b"], rows),
                         "hour": rng.integers(0, 24, rows), "is_fraud": (np.arange(rows) % 30 == 0).astype(int)})


def validate(data: pd.DataFrame):
    return validate_training_set(data, list(TYPES), label="is_fraud", bounds={"hour": (0, 23)}, types=TYPES)


def test_types_follow_the_contract():
    assert validate(frame()).passed
    data = frame().assign(hour=lambda f: f["hour"] + 0.5, merchant_category=7)
    text = "\n".join(validate(data).violations)
    assert "types: column 'hour' is float64, the contract says int" in text
    assert "column 'merchant_category' is int64, the contract says category" in text


def test_stale_features_are_named_with_their_age():
    result = validate(frame())
    snapshot = pd.Timestamp("2026-10-12", tz="UTC")
    fresh = FeatureFreshness("spend", snapshot - timedelta(days=1), timedelta(days=2))
    stale = FeatureFreshness("history", snapshot - timedelta(days=5), timedelta(days=2))
    check_freshness(result, [fresh, stale], snapshot)
    assert not result.passed
    (violation,) = result.violations
    assert "stale features: feature view 'history'" in violation and "5.0 days" in violation


def test_skew_beyond_the_allowed_share_fails():
    result = validate(frame())
    check_skew(result, SkewSample(entities=100, mismatched={"avg_amount_7d": 1}, missing_online=0), 0.01)
    assert result.passed  # one entity in a hundred is within 1%
    check_skew(result, SkewSample(entities=100, mismatched={"avg_amount_7d": 7}, missing_online=30), 0.01)
    text = "\n".join(result.violations)
    assert "feature 'avg_amount_7d' differs between offline and online for 7 of 100" in text
    assert "30 of 100 sampled entities are missing online" in text


def test_report_lists_every_check_and_its_result():
    result = validate(frame().assign(hour=40))
    check_freshness(result, [], pd.Timestamp("2026-10-12", tz="UTC"))
    check_skew(result, SkewSample(10, {}, 0), 0.0)
    report = result.markdown()
    for check in CHECKS:
        assert f"| {check} |" in report
    assert "| ranges | column 'hour' has 300 values above 23 |" in report and "| skew | ok |" in report
