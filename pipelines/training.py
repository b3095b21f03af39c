"""Training pipeline: features -> validate -> train -> evaluate -> register -> champion gate."""

from kfp import dsl

from pipelines.steps import training_steps


@dsl.pipeline(name="shipyard-training",
              description="Train, validate, evaluate and register the model of a use case; promote it only "
                          "through the champion gate.")
def training_pipeline(
    events_path: str,
    data_snapshot: str = "",
    as_of: str = "",
    holdout_fraction: float = 0.2,
    min_rows: int = 1000,
    skew_sample: int = 200,
    max_skew_share: float = 0.01,
    model_family: str = "hist_gradient_boosting",
    learning_rate: float = 0.1,
    max_iter: int = 200,
    max_leaf_nodes: int = 31,
    seed: int = 0,
    min_roc_auc: float = 0.8,
    min_pr_auc: float = 0.1,
    tolerance: float = 0.01,
    git_commit: str = "",
) -> int:
    registration = training_steps(
        events_path=events_path, data_snapshot=data_snapshot, as_of=as_of, holdout_fraction=holdout_fraction,
        min_rows=min_rows, skew_sample=skew_sample, max_skew_share=max_skew_share, model_family=model_family,
        learning_rate=learning_rate, max_iter=max_iter, max_leaf_nodes=max_leaf_nodes, seed=seed,
        min_roc_auc=min_roc_auc, min_pr_auc=min_pr_auc, tolerance=tolerance, git_commit=git_commit,
        trigger="training", reason="", idempotency_key="")
    return registration.outputs["Output"]
