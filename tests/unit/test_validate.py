import numpy as np
import pandas as pd
import pytest

from components.validate import validate_training_set

pytestmark = pytest.mark.unit

COLUMNS = ["amount", "merchant_category", "hour", "txn_count_7d"]
BOUNDS = {"amount": (0.0, 1e6), "hour": (0, 23), "txn_count_7d": (0.0, None)}


def frame(rows: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "amount": rng.uniform(1, 100, rows), "merchant_category": rng.choice(["fuel", "travel"], rows),
        "hour": rng.integers(0, 24, rows), "txn_count_7d": rng.integers(0, 9, rows),
        "is_fraud": (np.arange(rows) % 50 == 0).astype(int),
    })


def check(data: pd.DataFrame):
    return validate_training_set(data, COLUMNS, label="is_fraud", bounds=BOUNDS)


def test_clean_data_passes_with_a_report():
    result = check(frame())
    assert result.passed, result.violations
    assert "PASSED" in result.markdown() and "rows: 400" in result.markdown()


def test_every_violation_is_named():
    data = frame()
    data.loc[:4, "amount"] = np.nan
    data.loc[10:12, "hour"] = 30
    data.loc[20, "txn_count_7d"] = -1
    result = check(data.drop(columns=["merchant_category"]))
    assert not result.passed
    text = "\n".join(result.violations)
    assert "missing columns: merchant_category" in text
    assert "'amount' has 5 null values" in text
    assert "'hour' has 3 values above 23" in text
    assert "'txn_count_7d' has 1 values below 0.0" in text
    assert "FAILED" in result.markdown()


def test_too_few_rows_and_no_positives_fail():
    data = frame(50).assign(is_fraud=0)
    text = "\n".join(check(data).violations)
    assert "only 50 rows" in text and "positive label rate 0.0000" in text
