"""Late labels joined on the use case's event id, and a regression's error metrics on the labelled rows."""

import numpy as np
import pandas as pd
import pytest

from monitoring.labels import MIN_LABELLED_ROWS, join_labels, load_label_feed, regression_quality

pytestmark = pytest.mark.unit
NOW = pd.Timestamp("2026-11-01", tz="UTC")


def test_delivery_times_join_on_the_order_id_as_floats_once_they_arrived(tmp_path):
    feed = pd.DataFrame({"order_id": ["o1", "o2", "o3"], "delivery_minutes": [31.5, 42.0, 25.2],
                         "label_available_at": [NOW - pd.Timedelta("1h"), NOW - pd.Timedelta("1min"),
                                                NOW + pd.Timedelta("1h")]})
    feed.to_parquet(tmp_path / "traffic.parquet")
    pd.DataFrame({"transaction_id": ["t1"], "is_fraud": [1]}).to_parquet(tmp_path / "other.parquet")
    loaded = load_label_feed([tmp_path / "traffic.parquet", tmp_path / "other.parquet"], "delivery_minutes",
                             "order_id")
    rows = pd.DataFrame({"request_id": ["o2", "o1", "o3", "o9"], "score": [40.0, 30.0, 20.0, 10.0]})
    joined = join_labels(rows, loaded, "delivery_minutes", NOW, "order_id", regression=True)
    assert joined["delivery_minutes"].tolist()[:2] == [42.0, 31.5]  # not truncated to whole minutes
    assert joined["delivery_minutes"].isna().tolist() == [False, False, True, True]  # o3 not yet, o9 never


def test_regression_quality_is_mae_rmse_and_the_90th_percentile_error():
    truth = pd.Series(np.arange(MIN_LABELLED_ROWS, dtype=float))
    errors = np.where(np.arange(MIN_LABELLED_ROWS) % 20 < 3, -10.0, 1.0)  # 15% of orders 10 minutes early
    quality = regression_quality(truth + errors, truth)
    assert quality.labelled_rows == MIN_LABELLED_ROWS
    assert quality.mae == pytest.approx(2.35) and quality.rmse == pytest.approx(np.sqrt(15.85))
    assert quality.p90_absolute_error == pytest.approx(10.0)  # nine in ten within 10 minutes, not within 1
    labels = truth.copy()
    labels.iloc[0] = np.nan  # one label still to come: too few to measure
    assert regression_quality(truth + errors, labels) is None
