"""`shipyard pipeline ...`: run KFP pipelines locally, compile them for the KFP UI."""

from __future__ import annotations

from pathlib import Path

import typer

from shipyard.cli_context import context
from shipyard.cli_errors import console, readable_errors

pipeline_app = typer.Typer(help="KFP pipelines: run locally or compile for the KFP UI.", no_args_is_help=True)


@pipeline_app.command("run")
@readable_errors
def pipeline_run(name: str = typer.Argument(..., help="Pipeline to run: training."),
                 model_family: str = typer.Option("hist_gradient_boosting", help="hist_gradient_boosting "
                                                  "or logistic_regression."),
                 min_roc_auc: float = typer.Option(0.8, help="ROC AUC a model needs to become champion."),
                 events: Path = typer.Option(None, help="Labelled events (default: the generated baseline).")):
    """Run a pipeline on this machine with kfp.local (same components as on a cluster)."""
    from shipyard.pipeline_runs import run_training

    if name != "training":
        raise ValueError(f"unknown pipeline {name!r}; known: training")
    settings, _ = context()
    with console.status("running the training pipeline (kfp.local)"):
        outcome = run_training(settings, events, model_family=model_family, min_roc_auc=min_roc_auc)
    console.print(outcome.describe())
    console.print(f"component logs: {outcome.log_path}")


@pipeline_app.command("compile")
@readable_errors
def pipeline_compile(out: Path = typer.Option(Path("build/pipelines"), help="Directory for the IR YAML.")):
    """Compile every pipeline to KFP IR YAML (upload it in the KFP UI)."""
    from pipelines.compile import compile_all

    for path in compile_all(out):
        console.print(f"compiled {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(pipeline_app, name="pipeline")
