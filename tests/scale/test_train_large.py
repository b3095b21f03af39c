"""The bounded-memory training path against the in-memory one, on data small enough for both."""

import numpy as np
import pytest

from components.evaluate import evaluate_model
from components.train import train_model
from components.train_large import (
    AUC_TOLERANCE,
    negative_rate_for,
    sample_training_set,
    train_from_path,
    train_model_bounded,
)
from usecases.fraud.data import generate_transactions

pytestmark = pytest.mark.unit

COLUMNS = ["amount", "merchant_category", "hour"]
CATEGORICAL = ["merchant_category"]


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    events = generate_transactions(60_000, seed=5)
    train, holdout = events.iloc[:48_000], events.iloc[48_000:]
    folder = tmp_path_factory.mktemp("train")
    # Two files in a folder, as a partitioned training set is: both are read.
    train.iloc[:20_000].to_parquet(folder / "part-0.parquet", index=False)
    train.iloc[20_000:].to_parquet(folder / "part-1.parquet", index=False)
    return train, holdout, folder


def test_sampled_model_ranks_the_holdout_within_the_stated_tolerance_of_the_in_memory_model(split):
    train, holdout, folder = split
    full = train_model(train, COLUMNS, CATEGORICAL, "is_fraud", max_iter=50)
    # A quarter of the negatives, in batches much smaller than the data: the path that runs at scale.
    sampled, summary = train_model_bounded(folder, COLUMNS, CATEGORICAL, "is_fraud", max_iter=50,
                                           negative_rate=0.25, batch_rows=5_000)
    assert summary.rows_read == len(train) and summary.negatives_kept < 0.3 * summary.negatives
    full_auc = evaluate_model(full, holdout, COLUMNS, "is_fraud")["roc_auc"]
    sampled_auc = evaluate_model(sampled, holdout, COLUMNS, "is_fraud")["roc_auc"]
    assert full_auc > 0.85
    assert abs(full_auc - sampled_auc) < AUC_TOLERANCE, (full_auc, sampled_auc)
    # The same pipeline shape: the predictor and the evaluation call it with the same columns.
    assert sampled.predict_proba(holdout[COLUMNS]).shape == (len(holdout), 2)
    assert list(sampled.feature_names_in_) == list(full.feature_names_in_) == COLUMNS


def test_every_positive_is_kept_and_negatives_weigh_the_inverse_rate(split):
    train, _, folder = split
    frame, weights, summary = sample_training_set(folder, COLUMNS, CATEGORICAL, "is_fraud", negative_rate=0.1,
                                                  batch_rows=4_096)
    assert summary.positives == int(train["is_fraud"].sum()) == int(frame["is_fraud"].sum())
    assert np.all(weights[frame["is_fraud"].to_numpy() == 1] == 1.0)
    assert np.all(weights[frame["is_fraud"].to_numpy() == 0] == 10.0)
    # Weighted, the sample stands for the whole training set.
    assert weights.sum() == pytest.approx(len(train), rel=0.05)
    assert frame["amount"].dtype == np.float64 and frame["hour"].dtype == np.int32
    assert frame["merchant_category"].dtype == "category"


def test_a_fit_without_sampling_is_the_in_memory_fit_prediction_for_prediction(split):
    """The values the fit sees are the values served: a float rounded to float32 for the fit would put
    split thresholds on rounded values that the served float64 values fall on the other side of."""
    train, holdout, folder = split
    full = train_model(train, COLUMNS, CATEGORICAL, "is_fraud", max_iter=50)
    whole, summary = train_model_bounded(folder, COLUMNS, CATEGORICAL, "is_fraud", max_iter=50, negative_rate=1.0,
                                         batch_rows=5_000)
    assert summary.negative_rate == 1.0 and summary.rows_kept == len(train)
    np.testing.assert_array_equal(whole.predict_proba(holdout[COLUMNS]), full.predict_proba(holdout[COLUMNS]))


def test_max_rows_bounds_what_is_kept(split):
    _, _, folder = split
    _, _, summary = sample_training_set(folder, COLUMNS, CATEGORICAL, "is_fraud", max_rows=6_000)
    assert summary.rows_kept <= 6_000 * 1.05
    assert summary.negative_rate == pytest.approx((6_000 - summary.positives) / summary.negatives)


def test_too_many_positives_or_a_missing_column_is_a_clear_error(split):
    _, _, folder = split
    with pytest.raises(ValueError, match="exceed max_rows"):
        negative_rate_for(positives=500, negatives=10_000, max_rows=400)
    with pytest.raises(ValueError, match="no column.*txn_count_7d"):
        sample_training_set(folder, [*COLUMNS, "txn_count_7d"], CATEGORICAL, "is_fraud")


def test_pipeline_training_samples_a_classifier_above_max_rows_and_fits_whole_below(split):
    train, holdout, folder = split
    full = train_model(train, COLUMNS, CATEGORICAL, "is_fraud", max_iter=50)
    sampled, sample = train_from_path(folder, COLUMNS, CATEGORICAL, "is_fraud", max_rows=12_000, max_iter=50,
                                      batch_rows=5_000)
    assert sample["rows_read"] == len(train) and sample["rows_kept"] <= 12_000 * 1.05 and sample["sampling_rate"] < 0.3
    full_auc = evaluate_model(full, holdout, COLUMNS, "is_fraud")["roc_auc"]
    assert abs(full_auc - evaluate_model(sampled, holdout, COLUMNS, "is_fraud")["roc_auc"]) < AUC_TOLERANCE
    # The weights keep the probabilities on the full data's scale: the mean score is the real fraud rate.
    mean_score = sampled.predict_proba(holdout[COLUMNS])[:, 1].mean()
    assert mean_score == pytest.approx(holdout["is_fraud"].mean(), rel=0.35)
    whole, sample = train_from_path(folder, COLUMNS, CATEGORICAL, "is_fraud", max_rows=len(train), max_iter=50)
    assert sample == {"rows_read": len(train), "rows_kept": len(train), "sampling_rate": 1.0}
    assert evaluate_model(whole, holdout, COLUMNS, "is_fraud")["roc_auc"] == pytest.approx(full_auc, abs=2e-3)


def test_pipeline_training_of_a_regression_keeps_a_uniform_sample_above_max_rows(split):
    train, holdout, folder = split
    inputs = ["hour", "merchant_category"]
    model, sample = train_from_path(folder, inputs, CATEGORICAL, "amount", task="regression", max_rows=10_000,
                                    max_iter=30)
    assert sample["rows_read"] == len(train) and 9_000 < sample["rows_kept"] < 11_000
    assert sample["sampling_rate"] == pytest.approx(10_000 / len(train))
    assert model.predict(holdout[inputs]).shape == (len(holdout),)
    _, everything = train_from_path(folder, inputs, CATEGORICAL, "amount", task="regression", max_iter=5)
    assert everything == {"rows_read": len(train), "rows_kept": len(train), "sampling_rate": 1.0}
