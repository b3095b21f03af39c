"""The training DAG shared by the training and retraining pipelines: one gate for every candidate.

features -> validate -> train -> evaluate -> register (alias challenger) -> gate (alias champion).
Steps that read state which changes between runs either take an explicit snapshot input (the data
hash) or have KFP caching turned off (the online store, the registry), so a cached result is never
reused for different inputs.
"""

from kfp import dsl

from components.ops import build_training_set_op, evaluate_op, gate_op, register_op, train_op, validate_op
from components.promote_op import add_promote_step


def training_steps(*, events_path, data_snapshot, as_of, holdout_fraction, min_rows, skew_sample, max_skew_share,
                   model_family, learning_rate, max_iter, max_leaf_nodes, seed, min_roc_auc, min_pr_auc, tolerance,
                   git_commit, trigger: str, reason, idempotency_key):
    """Add the steps to the pipeline being defined; returns the register task (its output: the version)."""
    dataset = build_training_set_op(events_path=events_path, data_snapshot=data_snapshot, as_of=as_of,
                                    holdout_fraction=holdout_fraction)
    dataset.set_display_name("build training set (Feast point-in-time join)")
    validation = validate_op(train_set=dataset.outputs["train_set"], min_rows=min_rows, skew_sample=skew_sample,
                             max_skew_share=max_skew_share)
    validation.set_display_name("validate data against the feature contract")
    validation.set_caching_options(False)  # the skew check reads the online store as it is now
    model = train_op(train_set=dataset.outputs["train_set"], model_family=model_family,
                     learning_rate=learning_rate, max_iter=max_iter, max_leaf_nodes=max_leaf_nodes, seed=seed)
    model.set_display_name(f"train ({trigger})")
    model.after(validation)
    evaluation = evaluate_op(model=model.outputs["model"], holdout_set=dataset.outputs["holdout_set"])
    evaluation.set_display_name("evaluate on the out-of-time holdout")
    registration = register_op(model=model.outputs["model"], train_set=dataset.outputs["train_set"],
                               metrics=evaluation.outputs["metrics"], report=validation.outputs["report"],
                               pipeline_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
                               pipeline_run_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER, git_commit=git_commit,
                               trigger=trigger, reason=reason, idempotency_key=idempotency_key)
    registration.set_display_name("register in MLflow as challenger")
    registration.set_caching_options(False)  # writes the registry; idempotent per pipeline run
    gate = gate_op(holdout_set=dataset.outputs["holdout_set"], metrics=evaluation.outputs["metrics"],
                   candidate_version=registration.outputs["Output"], min_roc_auc=min_roc_auc, min_pr_auc=min_pr_auc,
                   tolerance=tolerance)
    gate.set_display_name("champion gate")
    gate.set_caching_options(False)  # reads the current champion
    gate.after(registration)
    add_promote_step(gate, registration_task=registration, evaluation_task=evaluation)  # promotion is a commit
    return registration
