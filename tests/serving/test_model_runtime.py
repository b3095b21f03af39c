"""The ONNX form serves only when it reproduces sklearn; anything else falls back to sklearn."""

import numpy as np
import pandas as pd
import pytest

from components.serving.model_runtime import ModelInputs, OnnxScorer, SklearnScorer, fastest_scorer

pytestmark = pytest.mark.unit

INPUTS = ModelInputs(["amount", "merchant_category", "hour", "txn_count_7d"], frozenset({"merchant_category"}))


def tiny_frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"amount": rng.gamma(2.0, 40.0, rows).round(2),
                          "merchant_category": rng.choice(["grocery", "fuel", "travel"], rows),
                          "hour": rng.integers(0, 24, rows), "txn_count_7d": rng.integers(0, 30, rows)})
    frame["label"] = ((frame["amount"] > 120) & (frame["merchant_category"] == "travel")).astype(int)
    return frame


def fitted(classifier, *, extra_step=None):
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    columns = ColumnTransformer([("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                                  ["merchant_category"])], remainder="passthrough")
    steps = [("columns", columns), *([("extra", extra_step)] if extra_step is not None else []),
             ("classifier", classifier)]
    frame = tiny_frame(400, seed=1)
    return Pipeline(steps).fit(frame[INPUTS.columns], frame["label"])


def test_gradient_boosting_is_served_by_onnx_with_sklearns_probabilities():
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = fitted(HistGradientBoostingClassifier(max_iter=20, random_state=0))
    scorer = fastest_scorer(model, INPUTS, tiny_frame(200, seed=2))
    assert isinstance(scorer, OnnxScorer)
    unseen = tiny_frame(300, seed=3)
    columns = {name: unseen[name].tolist() for name in INPUTS.columns}
    expected = model.predict_proba(unseen[INPUTS.columns])[:, 1]
    np.testing.assert_allclose(scorer.predict(columns), expected, rtol=0, atol=1e-6)
    one_row = {name: values[:1] for name, values in columns.items()}
    np.testing.assert_allclose(scorer.predict(one_row), expected[:1], rtol=0, atol=1e-6)


def test_a_model_onnx_cannot_convert_is_served_by_sklearn():
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import FunctionTransformer

    model = fitted(LogisticRegression(max_iter=200), extra_step=FunctionTransformer(np.log1p))
    scorer = fastest_scorer(model, INPUTS, tiny_frame(50, seed=4))
    assert isinstance(scorer, SklearnScorer)
    frame = tiny_frame(5, seed=5)
    got = scorer.predict({name: frame[name].tolist() for name in INPUTS.columns})
    np.testing.assert_array_equal(got, model.predict_proba(frame[INPUTS.columns])[:, 1])


def test_without_reference_rows_nothing_is_verified_so_sklearn_serves():
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = fitted(HistGradientBoostingClassifier(max_iter=5, random_state=0))
    assert isinstance(fastest_scorer(model, INPUTS, tiny_frame(0, seed=6)), SklearnScorer)


def test_a_regressor_is_served_by_onnx_with_sklearns_predicted_values():
    """A regressor's prediction is its value (minutes), not a probability: sklearn's ``predict`` and the
    ONNX regressor's output; float32 tree ensembles match it within 1e-6 of the value, so ONNX serves."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = tiny_frame(400, seed=1)
    minutes = 20 + 0.3 * frame["amount"] + 2.0 * frame["txn_count_7d"] + (frame["merchant_category"] == "travel") * 9
    columns = ColumnTransformer([("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                                  ["merchant_category"])], remainder="passthrough")
    model = Pipeline([("columns", columns), ("regressor", HistGradientBoostingRegressor(max_iter=50, random_state=0))])
    model.fit(frame[INPUTS.columns], minutes)
    scorer = fastest_scorer(model, INPUTS, tiny_frame(200, seed=2), regression=True)
    assert isinstance(scorer, OnnxScorer)
    unseen = tiny_frame(300, seed=3)
    values = {name: unseen[name].tolist() for name in INPUTS.columns}
    expected = model.predict(unseen[INPUTS.columns])
    assert expected.min() > 10  # minutes: an absolute 1e-6 would be below float32's resolution here
    np.testing.assert_allclose(scorer.predict(values), expected, rtol=1e-6, atol=0)
    one_row = {name: column[:1] for name, column in values.items()}
    np.testing.assert_allclose(scorer.predict(one_row), expected[:1], rtol=1e-6, atol=0)
    by_sklearn = SklearnScorer(model, INPUTS, regression=True)
    np.testing.assert_array_equal(by_sklearn.predict(values), expected)
