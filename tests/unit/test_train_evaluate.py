import pytest
import skops.io

from components.evaluate import evaluate_model
from components.train import load_model, save_model, train_model
from usecases.fraud.data import generate_transactions

pytestmark = pytest.mark.unit

COLUMNS = ["amount", "merchant_category", "hour"]


@pytest.fixture(scope="module")
def events():
    data = generate_transactions(12_000, seed=3)
    return data.iloc[:9_000], data.iloc[9_000:]


@pytest.mark.parametrize("family", ["hist_gradient_boosting", "logistic_regression"])
def test_both_families_learn_fraud_and_round_trip_through_skops(events, family, tmp_path):
    train, holdout = events
    model = train_model(train, COLUMNS, ["merchant_category"], "is_fraud", model_family=family, max_iter=100)
    metrics = evaluate_model(model, holdout, COLUMNS, "is_fraud")
    assert metrics["roc_auc"] > 0.8, metrics
    assert 0 < metrics["pr_auc"] <= 1 and 0 <= metrics["recall_at_alert_rate"] <= 1
    path = tmp_path / "model.skops"
    save_model(model, path)
    reloaded = load_model(path)
    assert (reloaded.predict_proba(holdout[COLUMNS]) == model.predict_proba(holdout[COLUMNS])).all()


def test_unknown_family_is_refused(events):
    with pytest.raises(ValueError, match="model_family must be one of"):
        train_model(events[0], COLUMNS, ["merchant_category"], "is_fraud", model_family="magic")


def test_a_file_with_unexpected_types_is_not_loaded(tmp_path):
    from fractions import Fraction

    path = tmp_path / "odd.skops"
    skops.io.dump({"payload": Fraction(1, 3)}, path)
    with pytest.raises(ValueError, match="untrusted types"):
        load_model(path)


def test_single_class_holdout_is_refused(events):
    train, holdout = events
    model = train_model(train, COLUMNS, ["merchant_category"], "is_fraud", max_iter=20)
    with pytest.raises(ValueError, match="single class"):
        evaluate_model(model, holdout[holdout["is_fraud"] == 0], COLUMNS, "is_fraud")
