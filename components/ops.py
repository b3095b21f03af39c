"""KFP adapters: each only turns artifacts into paths and values for the plain step function.

Their bodies run in the component image (or this virtualenv locally), so they import there. The
step modules themselves never import ``kfp.dsl`` decorators, which the KFP runtime does not load.
"""

from kfp import dsl
from kfp.dsl import Dataset, Input, Markdown, Metrics, Model, Output

from components import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def build_training_set_op(events_path: str, as_of: str, holdout_fraction: float,
                          train_set: Output[Dataset], holdout_set: Output[Dataset]):
    from components.build_training_set import build_training_set

    summary = build_training_set(events_path, as_of, holdout_fraction, train_set.path, holdout_set.path)
    for artifact in (train_set, holdout_set):
        artifact.metadata["feature_columns"] = summary.feature_columns
    train_set.metadata.update(rows=summary.rows, dropped_without_label=summary.dropped_without_label,
                              dropped_without_features=summary.dropped_without_features)
    holdout_set.metadata["rows"] = summary.holdout_rows


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def validate_op(train_set: Input[Dataset], report: Output[Markdown]):
    import pandas as pd

    from components.validate import DataValidationError, contract_bounds, validate_training_set
    from shipyard.settings import get_settings
    from shipyard.usecase import load_use_case

    columns = list(train_set.metadata["feature_columns"])
    label = load_use_case(get_settings().use_case).label
    result = validate_training_set(pd.read_parquet(train_set.path), columns, label=label,
                                   bounds=contract_bounds(columns))
    with open(report.path, "w") as out:
        out.write(result.markdown())
    if not result.passed:
        raise DataValidationError("data validation failed: " + "; ".join(result.violations))


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def train_op(train_set: Input[Dataset], model_family: str, learning_rate: float, max_iter: int,
             max_leaf_nodes: int, seed: int, model: Output[Model]):
    import pandas as pd

    from components.train import save_model, train_model
    from shipyard.settings import get_settings
    from shipyard.usecase import load_use_case

    use_case = load_use_case(get_settings().use_case)
    columns = list(train_set.metadata["feature_columns"])
    fitted = train_model(pd.read_parquet(train_set.path), columns, use_case.categorical_columns(), use_case.label,
                         model_family=model_family, learning_rate=learning_rate, max_iter=max_iter,
                         max_leaf_nodes=max_leaf_nodes, seed=seed)
    save_model(fitted, model.path)
    model.metadata.update(feature_columns=columns, model_family=model_family, learning_rate=learning_rate,
                          max_iter=max_iter, max_leaf_nodes=max_leaf_nodes, seed=seed, framework="sklearn+skops")


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def evaluate_op(model: Input[Model], holdout_set: Input[Dataset], metrics: Output[Metrics]) -> float:
    import pandas as pd

    from components.evaluate import evaluate_model
    from components.train import load_model
    from shipyard.settings import get_settings
    from shipyard.usecase import load_use_case

    label = load_use_case(get_settings().use_case).label
    columns = list(holdout_set.metadata["feature_columns"])
    results = evaluate_model(load_model(model.path), pd.read_parquet(holdout_set.path), columns, label)
    for name, value in results.items():
        metrics.log_metric(name, value)
    return results["roc_auc"]


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def register_op(model: Input[Model], train_set: Input[Dataset], metrics: Input[Metrics],
                min_roc_auc: float, pipeline_run: str) -> int:
    from components.register import register_model

    registration = register_model(
        model.path, train_set.path, list(train_set.metadata["feature_columns"]),
        {k: float(v) for k, v in metrics.metadata.items()},
        {k: v for k, v in model.metadata.items() if k != "feature_columns"},
        min_roc_auc, pipeline_run)
    print(f"registered {registration.model_name} version {registration.version}: {registration.reason}")
    return registration.version
