"""`shipyard pipeline ...`: run KFP pipelines locally, compile them for the KFP UI, submit them to KFP."""

from __future__ import annotations

from pathlib import Path

import typer

from shipyard_cli.context import context
from shipyard_cli.errors import UserError, as_user_error, console, readable_errors

pipeline_app = typer.Typer(help="KFP pipelines: run locally, compile for the KFP UI, submit to KFP.",
                           no_args_is_help=True)
RUNNABLE = ("training", "retraining", "batch-scoring")


@pipeline_app.command("run")
@readable_errors
def pipeline_run(name: str = typer.Argument(..., help="Pipeline to run: training, retraining or batch-scoring."),
                 as_of: str = typer.Option(None, help="Snapshot time (ISO): labels known then; default: when "
                                           "the newest label arrived."),
                 training_days: int = typer.Option(None, min=1, help="Length of the training window."),
                 evaluation_days: int = typer.Option(None, min=1, help="Length of the newest (evaluation) "
                                                     "window the gate compares models on."),
                 model_family: str = typer.Option(None, help="hist_gradient_boosting or logistic_regression."),
                 max_iter: int = typer.Option(None, min=1, help="Boosting rounds / solver iterations."),
                 min_roc_auc: float = typer.Option(None, help="ROC AUC a model needs to become champion."),
                 min_pr_auc: float = typer.Option(None, help="PR AUC a model needs to become champion."),
                 max_mae: float = typer.Option(None, min=0.0, help="Regression: the largest MAE (in the label's "
                                               "unit) a model may have to become champion (default: the use "
                                               "case's own)."),
                 tolerance: float = typer.Option(None, min=0.0, help="How much better than the champion on the "
                                                 "evaluation window a challenger must be."),
                 reason: str = typer.Option(None, help="retraining: why (e.g. the alert)."),
                 idempotency_key: str = typer.Option(None, help="retraining: a key that starts at most one run."),
                 customers: Path = typer.Option(None, help="batch-scoring: parquet table to score."),
                 output: Path = typer.Option(None, help="batch-scoring: where to write the scores."),
                 model_version: int = typer.Option(0, min=0, help="batch-scoring: version (0 = champion).")):
    """Run a pipeline on this machine with kfp.local (same components as on a cluster).

    Options left out take the pipeline's own defaults (see `shipyard pipeline compile`).
    """
    from pipelines import runs as pipeline_runs

    if name not in RUNNABLE:
        raise UserError(f"unknown pipeline {name!r}; known: {', '.join(RUNNABLE)}")
    settings, _ = context()
    if name == "batch-scoring":
        if customers is None:
            raise UserError("batch-scoring needs --customers (a parquet table of entities and request fields)")
        with console.status("running the batch-scoring pipeline (kfp.local)"), as_user_error(FileNotFoundError):
            scored = pipeline_runs.run_batch_scoring(settings, customers, output or settings.reports_dir /
                                                     "batch-scores.parquet", model_version)
        console.print(scored.describe())
        return
    given = {"as_of": as_of, "training_days": training_days, "evaluation_days": evaluation_days,
             "model_family": model_family, "max_iter": max_iter, "min_roc_auc": min_roc_auc,
             "min_pr_auc": min_pr_auc, "max_mae": max_mae, "tolerance": tolerance}
    parameters = {key: value for key, value in given.items() if value is not None}
    if name == "retraining" and (not reason or not idempotency_key):
        raise UserError("retraining needs --reason and --idempotency-key")
    with (console.status(f"running the {name} pipeline (kfp.local)"),
          as_user_error(pipeline_runs.PipelineFailed, FileNotFoundError)):
        if name == "training":
            outcome = pipeline_runs.run_training(settings, **parameters)
        else:
            outcome = pipeline_runs.run_retraining(settings, reason=reason, idempotency_key=idempotency_key,
                                                   **parameters)
    console.print(outcome.describe())
    if outcome.validation_report:
        console.print(f"validation report: {outcome.validation_report}")
    console.print(f"component logs: {outcome.log_path}")


@pipeline_app.command("compile")
@readable_errors
def pipeline_compile(out: Path = typer.Option(Path("build/pipelines"), help="Directory for the IR YAML.")):
    """Compile every pipeline to KFP IR YAML (upload it in the KFP UI)."""
    from pipelines.compile import compile_all

    for path in compile_all(out):
        console.print(f"compiled {path}")


@pipeline_app.command("submit")
@readable_errors
def pipeline_submit(name: str = typer.Argument(..., help="Pipeline: training, retraining or batch-scoring."),
                    host: str = typer.Option(None, help="KFP API server URL (default: SHIPYARD_KFP_HOST)."),
                    param: list[str] = typer.Option([], "--param", "-p", help="NAME=VALUE pipeline parameter."),
                    experiment: str = typer.Option("shipyard", help="KFP experiment name."),
                    run_name: str = typer.Option(None, help="Run name shown in the KFP UI."),
                    package_dir: Path = typer.Option(Path("build/pipelines"), help="Where the compiled YAML is.")):
    """Submit a compiled pipeline to a Kubeflow Pipelines API server."""
    from pipelines.compile import compile_pipeline
    from pipelines.submit import submit, typed_arguments
    from shipyard.uris import mask_password

    settings, _ = context()
    host = host or settings.kfp_host
    if not host:
        raise UserError("no KFP host: pass --host URL or set SHIPYARD_KFP_HOST")
    raw = {}
    for item in param:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--param needs NAME=VALUE, not {item!r}")
        raw[key] = value
    with as_user_error(ValueError):  # an unknown pipeline, parameter or value: named by the checks
        package = compile_pipeline(name, package_dir)  # always the code as it is now
        arguments = typed_arguments(package, raw)
    run_id = submit(host, package, arguments, experiment, run_name)
    console.print(f"submitted {package} to {mask_password(host)}: run {run_id}")


def register(app: typer.Typer) -> None:
    app.add_typer(pipeline_app, name="pipeline")
