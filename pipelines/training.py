"""The training pipeline, for first training and retraining alike: one DAG, one gate for every candidate.

window -> features -> validate -> train -> evaluate -> register (alias challenger) -> gate (alias champion)

Monitoring retrains by running this same pipeline with ``trigger="retraining"``, a ``reason`` and an
``idempotency_key`` (pipelines/runs.py). Every default lives here, in the signature, and nowhere else:
callers pass only what they mean to change. The step after the gate (promotion to the environment's
overlay) takes the gate's outputs: ``decision``, ``promoted_version``, ``metrics`` and ``reason``.

Steps that read state which changes between runs (the offline store's windows, the online store, the
registry) have KFP caching turned off, so a cached result is never reused for different inputs.
"""

from kfp import dsl

from components.ops import build_training_set_op, evaluate_op, gate_op, register_op, train_op, validate_op
from components.promote_op import add_promote_step


@dsl.pipeline(name="shipyard-training",
              description="Train on a time window of the offline store, validate, evaluate on the newest "
                          "labelled window, register, and promote only through the champion gate.")
def training_pipeline(
    trigger: str = "training",
    reason: str = "",
    idempotency_key: str = "",
    as_of: str = "",
    training_days: int = 28,
    evaluation_days: int = 3,
    label_delay_days: int = -1,
    reference_fraction: float = 0.2,
    data_snapshot: str = "",
    min_rows: int = 1000,
    skew_sample: int = 200,
    max_skew_share: float = 0.01,
    model_family: str = "hist_gradient_boosting",
    learning_rate: float = 0.1,
    max_iter: int = 200,
    max_leaf_nodes: int = 31,
    seed: int = 0,
    max_train_rows: int = 250_000,
    min_roc_auc: float = 0.8,
    min_pr_auc: float = 0.1,
    max_mae: float = 0.0,
    tolerance: float = 0.01,
    max_reference_drop: float = 0.05,
    git_commit: str = "",
) -> int:
    """``as_of`` (ISO time; empty: when the newest label arrived) is the snapshot time. The evaluation
    window is the ``evaluation_days`` ending ``label_delay_days`` before it (late labels have arrived;
    -1: the use case's own ``label_delay_days``);
    the training window is the ``training_days`` before that. ``data_snapshot`` pins the windows'
    content hash (empty: take it when the step runs). ``tolerance``: how much better on the newest
    window a challenger must be; ``max_reference_drop``: how much worse on the older reference holdout
    it may be. The use case's task chooses the gate: ``min_roc_auc`` and ``min_pr_auc`` judge a
    classifier; a regression needs a MAE of at most ``max_mae`` (0: the use case's own ``max_mae``),
    and reads ``tolerance`` and ``max_reference_drop`` as shares of the champion's error.
    ``max_train_rows``: the training step fits on at most about this many rows, read in Arrow batches
    (a classifier keeps every positive and a weighted sample of negatives, a regression a uniform
    sample; components/train_large.py); a training set this size or smaller is fitted whole."""
    dataset = build_training_set_op(as_of=as_of, training_days=training_days, evaluation_days=evaluation_days,
                                    label_delay_days=label_delay_days, reference_fraction=reference_fraction,
                                    data_snapshot=data_snapshot)
    dataset.set_display_name("build training set from the offline store (Feast point-in-time join)")
    dataset.set_caching_options(False)  # an empty as_of means "now": the windows move between runs
    validation = validate_op(train_set=dataset.outputs["train_set"], min_rows=min_rows, skew_sample=skew_sample,
                             max_skew_share=max_skew_share)
    validation.set_display_name("validate data against the feature contract")
    validation.set_caching_options(False)  # the skew check reads the online store as it is now
    model = train_op(train_set=dataset.outputs["train_set"], model_family=model_family,
                     learning_rate=learning_rate, max_iter=max_iter, max_leaf_nodes=max_leaf_nodes, seed=seed,
                     max_train_rows=max_train_rows)
    model.set_display_name("train")
    model.after(validation)
    evaluation = evaluate_op(model=model.outputs["model"], holdout_set=dataset.outputs["holdout_set"],
                             reference_set=dataset.outputs["reference_set"])
    evaluation.set_display_name("evaluate on the newest window and the reference holdout")
    registration = register_op(model=model.outputs["model"], train_set=dataset.outputs["train_set"],
                               metrics=evaluation.outputs["metrics"], report=validation.outputs["report"],
                               pipeline_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
                               pipeline_run_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER, git_commit=git_commit,
                               trigger=trigger, reason=reason, idempotency_key=idempotency_key)
    registration.set_display_name("register in MLflow as challenger")
    registration.set_caching_options(False)  # writes the registry; idempotent per pipeline run
    gate = gate_op(holdout_set=dataset.outputs["holdout_set"], reference_set=dataset.outputs["reference_set"],
                   metrics=evaluation.outputs["metrics"], candidate_version=registration.outputs["Output"],
                   min_roc_auc=min_roc_auc, min_pr_auc=min_pr_auc, max_mae=max_mae, tolerance=tolerance,
                   max_reference_drop=max_reference_drop)
    gate.set_display_name("champion gate")
    gate.set_caching_options(False)  # reads the current champion
    gate.after(registration)
    add_promote_step(gate, registration_task=registration, evaluation_task=evaluation)  # promotion is a commit
    return registration.outputs["Output"]
