"""Train the use case's model on the training set; saved with skops (no pickle).

The task of the use case chooses the estimator: a binary classifier (``predict_proba``) or a
regressor (``predict``). Each task has a gradient-boosted family and a linear baseline family.
"""

from pathlib import Path

import pandas as pd

# task -> the model families it can train (the first is the pipeline's default)
TASK_FAMILIES = {
    "binary_classification": ("hist_gradient_boosting", "logistic_regression"),
    "regression": ("hist_gradient_boosting", "linear_regression"),
}
MODEL_FAMILIES = TASK_FAMILIES["binary_classification"]
STEP = {"binary_classification": "classifier", "regression": "regressor"}  # the estimator's Pipeline step

# Types skops may load beyond its defaults (which cover the rest of every model family).
SKOPS_TRUSTED_TYPES = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]


def make_model(model_family: str, categorical: list[str], numeric: list[str], *, learning_rate: float,
               max_iter: int, max_leaf_nodes: int, seed: int, task: str = "binary_classification"):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    if task not in TASK_FAMILIES:
        raise ValueError(f"task must be one of {', '.join(TASK_FAMILIES)}, not {task!r}")
    families = TASK_FAMILIES[task]
    if model_family not in families:
        raise ValueError(f"model_family must be one of {', '.join(families)} for a {task.replace('_', ' ')}, "
                         f"not {model_family!r}")
    encode = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    if model_family == "hist_gradient_boosting":
        columns = ColumnTransformer([("categorical", encode, categorical)], remainder="passthrough")
        boosting = HistGradientBoostingClassifier if task == "binary_classification" else HistGradientBoostingRegressor
        estimator = boosting(learning_rate=learning_rate, max_iter=max_iter, max_leaf_nodes=max_leaf_nodes,
                             random_state=seed)
    else:
        columns = ColumnTransformer([("categorical", encode, categorical), ("numeric", StandardScaler(), numeric)])
        estimator = (LogisticRegression(max_iter=max_iter, class_weight="balanced")
                     if model_family == "logistic_regression" else Ridge(alpha=1.0))
    return Pipeline([("columns", columns), (STEP[task], estimator)])


def train_model(frame: pd.DataFrame, feature_columns: list[str], categorical: list[str], label: str, *,
                model_family: str = "hist_gradient_boosting", learning_rate: float = 0.1,
                max_iter: int = 200, max_leaf_nodes: int = 31, seed: int = 0,
                task: str = "binary_classification"):
    numeric = [c for c in feature_columns if c not in categorical]
    model = make_model(model_family, categorical, numeric, learning_rate=learning_rate, max_iter=max_iter,
                       max_leaf_nodes=max_leaf_nodes, seed=seed, task=task)
    return model.fit(frame[feature_columns], frame[label])


def predictions_of(model, frame: pd.DataFrame, columns: list[str], task: str = "binary_classification"):
    """What the model serves for each row: the positive class's probability, or the predicted value."""
    if task == "regression":
        return model.predict(frame[columns])
    return model.predict_proba(frame[columns])[:, 1]


def save_model(model, path: str | Path) -> None:
    import skops.io

    skops.io.dump(model, path)


def load_model(path: str | Path):
    import skops.io

    untrusted = set(skops.io.get_untrusted_types(file=path)) - set(SKOPS_TRUSTED_TYPES)
    if untrusted:
        raise ValueError(f"refusing to load model with untrusted types: {sorted(untrusted)}")
    return skops.io.load(path, trusted=SKOPS_TRUSTED_TYPES)
