"""KFP adapters: each only turns artifacts into paths and values for the plain step function.

Each adapter builds the settings once from its pod's environment (the variables the compiled
pipeline injects into every task, ``COMPONENT_VARIABLES["pipeline"]``) and passes them explicitly.

Their bodies run in the component image (or this virtualenv locally), so they import there. The
step modules themselves never import ``kfp.dsl`` decorators, which the KFP runtime does not load.
"""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import ClassificationMetrics, Dataset, Input, Markdown, Metrics, Model, Output

from components import COMPONENT_IMAGE


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def build_training_set_op(as_of: str, training_days: int, evaluation_days: int, label_delay_days: int,
                          reference_fraction: float, data_snapshot: str, train_set: Output[Dataset],
                          holdout_set: Output[Dataset], reference_set: Output[Dataset]):
    from components.build_training_set import build_training_set
    from shipyard.settings import Settings

    summary = build_training_set(Settings.from_env(component="pipeline"), as_of=as_of, training_days=training_days,
                                 evaluation_days=evaluation_days, label_delay_days=label_delay_days,
                                 reference_fraction=reference_fraction, train_path=train_set.path,
                                 holdout_path=holdout_set.path, reference_path=reference_set.path,
                                 data_snapshot=data_snapshot)
    for artifact in (train_set, holdout_set, reference_set):
        artifact.metadata.update(feature_columns=summary.feature_columns, feature_types=summary.feature_types,
                                 data_snapshot=summary.data_snapshot, **summary.windows)
    train_set.metadata.update(rows=summary.rows, dropped_without_features=summary.dropped_without_features,
                              absent_views=summary.absent_views)
    holdout_set.metadata["rows"] = summary.holdout_rows
    reference_set.metadata["rows"] = summary.reference_rows


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def validate_op(train_set: Input[Dataset], min_rows: int, skew_sample: int, max_skew_share: float,
                report: Output[Markdown]):
    from components.validate import DataValidationError, validate_dataset
    from shipyard.settings import Settings

    # Features must be fresh where they are used: at the end of the newest window, not at as_of.
    features_needed_at = train_set.metadata["evaluation_window"].split("/")[1]
    settings = Settings.from_env(component="pipeline")
    result = validate_dataset(settings, train_set.path, list(train_set.metadata["feature_columns"]),
                              dict(train_set.metadata["feature_types"]), features_needed_at, min_rows=min_rows,
                              skew_sample=skew_sample, max_skew_share=max_skew_share)
    with open(report.path, "w") as out:
        out.write(result.markdown())
    report.metadata.update(passed=result.passed, violations=result.violations)
    if not result.passed:
        raise DataValidationError("data validation failed: " + "; ".join(result.violations))


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def train_op(train_set: Input[Dataset], model_family: str, learning_rate: float, max_iter: int,
             max_leaf_nodes: int, seed: int, max_train_rows: int, model: Output[Model]):
    """Reads the training set in Arrow batches and fits on at most about ``max_train_rows`` rows
    (components/train_large.train_from_path): bounded memory whatever the window holds."""
    from components.train import save_model
    from components.train_large import train_from_path
    from shipyard.settings import Settings
    from shipyard.usecase import load_use_case

    use_case = load_use_case(Settings.from_env(component="pipeline").use_case)
    columns = list(train_set.metadata["feature_columns"])
    fitted, sample = train_from_path(train_set.path, columns, use_case.categorical_columns(), use_case.label,
                                     task=use_case.task, max_rows=max_train_rows, model_family=model_family,
                                     learning_rate=learning_rate, max_iter=max_iter, max_leaf_nodes=max_leaf_nodes,
                                     seed=seed)
    save_model(fitted, model.path)
    model.metadata.update(feature_columns=columns, model_family=model_family, learning_rate=learning_rate,
                          max_iter=max_iter, max_leaf_nodes=max_leaf_nodes, seed=seed, task=use_case.task,
                          max_train_rows=max_train_rows, framework="sklearn+skops", **sample)
    print(f"trained on {sample['rows_kept']} of {sample['rows_read']} rows "
          f"(sampling rate {sample['sampling_rate']:.4f})")


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def evaluate_op(model: Input[Model], holdout_set: Input[Dataset], reference_set: Input[Dataset],
                metrics: Output[Metrics], classification: Output[ClassificationMetrics]) -> float:
    """Metrics on the recent holdout (plain names) and the reference holdout ("reference_" names).

    Returns the headline metric: ROC AUC for a classifier, MAE for a regression (whose
    ``classification`` artifact stays empty: there is no ROC curve to draw)."""
    from components.evaluate import curves, evaluate_holdouts, scores_of
    from components.train import load_model
    from shipyard.settings import Settings
    from shipyard.usecase import load_use_case

    use_case = load_use_case(Settings.from_env(component="pipeline").use_case)
    columns = list(holdout_set.metadata["feature_columns"])
    fitted = load_model(model.path)
    results, holdout = evaluate_holdouts(fitted, holdout_set.path, reference_set.path, columns, use_case.label,
                                         use_case.categorical_columns(), task=use_case.task)
    for name, value in results.items():
        metrics.log_metric(name, value)
    if use_case.is_regression:
        return results["mae"]
    shown = curves(holdout[use_case.label].to_numpy(), scores_of(fitted, holdout, columns))
    classification.log_roc_curve(shown.fpr, shown.tpr, shown.thresholds)
    classification.log_confusion_matrix(shown.categories, shown.confusion_matrix)
    return results["roc_auc"]


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def register_op(model: Input[Model], train_set: Input[Dataset], metrics: Input[Metrics], report: Input[Markdown],
                pipeline_run_id: str, pipeline_run_name: str, git_commit: str, trigger: str, reason: str,
                idempotency_key: str) -> int:
    from components.lineage import git_commit as current_commit
    from components.lineage import window_tags
    from components.register import register_model
    from shipyard.settings import Settings

    params = {k: v for k, v in model.metadata.items() if k not in ("feature_columns", "framework")}
    tags = {"shipyard.git_commit": git_commit or current_commit(), "shipyard.trigger": trigger,
            **window_tags(train_set.metadata)}
    tags.update({k: v for k, v in {"shipyard.retraining_reason": reason,
                                   "shipyard.idempotency_key": idempotency_key}.items() if v})
    registration = register_model(Settings.from_env(component="pipeline"), model.path, train_set.path,
                                  list(train_set.metadata["feature_columns"]),
                                  dict(train_set.metadata["feature_types"]),
                                  {k: float(v) for k, v in metrics.metadata.items()}, params, pipeline_run_id,
                                  tags, run_name=pipeline_run_name, report_path=report.path)
    state = "registered" if registration.created else "already registered by this run:"
    print(f"{state} {registration.model_name} version {registration.version} as challenger")
    return registration.version


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def gate_op(holdout_set: Input[Dataset], reference_set: Input[Dataset], metrics: Input[Metrics],
            candidate_version: int, min_roc_auc: float, min_pr_auc: float, max_mae: float, tolerance: float,
            max_reference_drop: float) -> NamedTuple("GateOutputs", decision=str, promoted_version=int, metrics=str,
                                                     reason=str):
    """Outputs for the step after the gate (promotion): ``decision`` promoted|rejected|equal,
    ``promoted_version`` (0 unless promoted), ``metrics`` (JSON: challenger, champion, moves), ``reason``.

    The use case's task chooses the thresholds: ``min_roc_auc`` and ``min_pr_auc`` for a classifier;
    for a regression ``max_mae``, or when it is 0 the use case's ``max_mae``."""
    from collections import namedtuple

    from components.gate import gate_challenger, outputs_metrics
    from shipyard.settings import Settings
    from shipyard.usecase import load_use_case

    settings = Settings.from_env(component="pipeline")
    use_case = load_use_case(settings.use_case)
    candidate = {k: float(v) for k, v in metrics.metadata.items()}
    decision = gate_challenger(settings, use_case.model_name, candidate_version, holdout_set.path,
                               reference_set.path, use_case.label, candidate, min_roc_auc=min_roc_auc,
                               min_pr_auc=min_pr_auc, tolerance=tolerance, max_reference_drop=max_reference_drop,
                               task=use_case.task, max_mae=max_mae if max_mae > 0 else use_case.max_mae)
    print(f"gate: version {candidate_version} {decision.reason}")
    outputs = namedtuple("GateOutputs", ["decision", "promoted_version", "metrics", "reason"])
    return outputs(decision.decision, candidate_version if decision.promote else 0,
                   outputs_metrics(candidate, decision), decision.reason)


@dsl.component(base_image=COMPONENT_IMAGE, install_kfp_package=False)
def score_op(customers_path: str, data_snapshot: str, model_version: int, scores: Output[Dataset]) -> int:
    from components.score import score_customers
    from shipyard.settings import Settings

    summary = score_customers(Settings.from_env(component="pipeline"), customers_path, scores.path, model_version,
                              data_snapshot=data_snapshot)
    scores.metadata.update(rows=summary.rows, model_name=summary.model_name, model_version=summary.model_version,
                           features_missing=summary.features_missing)
    print(f"scored {summary.rows} rows with {summary.model_name} version {summary.model_version}")
    return summary.model_version
