"""Training pipeline: features -> validate -> train -> evaluate -> register (champion gate)."""

from kfp import dsl

from components.ops import build_training_set_op, evaluate_op, register_op, train_op, validate_op


@dsl.pipeline(name="shipyard-training", description="Train, evaluate and register the model of a use case.")
def training_pipeline(
    events_path: str,
    as_of: str = "",
    holdout_fraction: float = 0.2,
    model_family: str = "hist_gradient_boosting",
    learning_rate: float = 0.1,
    max_iter: int = 200,
    max_leaf_nodes: int = 31,
    seed: int = 0,
    min_roc_auc: float = 0.8,
) -> int:
    dataset = build_training_set_op(events_path=events_path, as_of=as_of, holdout_fraction=holdout_fraction)
    dataset.set_display_name("build training set (Feast point-in-time join)")
    validation = validate_op(train_set=dataset.outputs["train_set"])
    validation.set_display_name("validate data")
    model = train_op(train_set=dataset.outputs["train_set"], model_family=model_family,
                     learning_rate=learning_rate, max_iter=max_iter, max_leaf_nodes=max_leaf_nodes, seed=seed)
    model.after(validation)
    evaluation = evaluate_op(model=model.outputs["model"], holdout_set=dataset.outputs["holdout_set"])
    registration = register_op(model=model.outputs["model"], train_set=dataset.outputs["train_set"],
                               metrics=evaluation.outputs["metrics"], min_roc_auc=min_roc_auc,
                               pipeline_run=dsl.PIPELINE_JOB_NAME_PLACEHOLDER)
    registration.set_display_name("register in MLflow")
    return registration.outputs["Output"]
