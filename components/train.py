"""Train a binary classifier on the training set; saved with skops (no pickle)."""

from pathlib import Path

import pandas as pd

MODEL_FAMILIES = ("hist_gradient_boosting", "logistic_regression")

# Types skops may load beyond its defaults (which cover the rest of both model families).
SKOPS_TRUSTED_TYPES = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]


def make_model(model_family: str, categorical: list[str], numeric: list[str], *, learning_rate: float,
               max_iter: int, max_leaf_nodes: int, seed: int):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    encode = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    if model_family == "hist_gradient_boosting":
        columns = ColumnTransformer([("categorical", encode, categorical)], remainder="passthrough")
        classifier = HistGradientBoostingClassifier(
            learning_rate=learning_rate, max_iter=max_iter, max_leaf_nodes=max_leaf_nodes, random_state=seed)
    elif model_family == "logistic_regression":
        columns = ColumnTransformer([("categorical", encode, categorical), ("numeric", StandardScaler(), numeric)])
        classifier = LogisticRegression(max_iter=max_iter, class_weight="balanced")
    else:
        raise ValueError(f"model_family must be one of {', '.join(MODEL_FAMILIES)}, not {model_family!r}")
    return Pipeline([("columns", columns), ("classifier", classifier)])


def train_model(frame: pd.DataFrame, feature_columns: list[str], categorical: list[str], label: str, *,
                model_family: str = "hist_gradient_boosting", learning_rate: float = 0.1,
                max_iter: int = 200, max_leaf_nodes: int = 31, seed: int = 0):
    numeric = [c for c in feature_columns if c not in categorical]
    model = make_model(model_family, categorical, numeric, learning_rate=learning_rate, max_iter=max_iter,
                       max_leaf_nodes=max_leaf_nodes, seed=seed)
    return model.fit(frame[feature_columns], frame[label])


def save_model(model, path: str | Path) -> None:
    import skops.io

    skops.io.dump(model, path)


def load_model(path: str | Path):
    import skops.io

    untrusted = set(skops.io.get_untrusted_types(file=path)) - set(SKOPS_TRUSTED_TYPES)
    if untrusted:
        raise ValueError(f"refusing to load model with untrusted types: {sorted(untrusted)}")
    return skops.io.load(path, trusted=SKOPS_TRUSTED_TYPES)
