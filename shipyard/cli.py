"""The ``shipyard`` command line. Heavy libraries are imported inside commands, so ``--help`` is instant."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import typer

from shipyard import cli_gitops
from shipyard.cli_errors import console, readable_errors
from shipyard.settings import get_settings
from shipyard.usecase import load_use_case

app = typer.Typer(help="Shipyard: train, register, serve and monitor models on the Kubeflow stack.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
data_app = typer.Typer(help="Generate the use case's seeded data.", no_args_is_help=True)
features_app = typer.Typer(help="Feast feature definitions and the online store.", no_args_is_help=True)
pipeline_app = typer.Typer(help="KFP pipelines: run locally or compile for the KFP UI.", no_args_is_help=True)
monitor_app = typer.Typer(help="Drift monitoring with Evidently and Prometheus.", no_args_is_help=True)
for sub, name in ((data_app, "data"), (features_app, "features"), (pipeline_app, "pipeline"),
                  (monitor_app, "monitor")):
    app.add_typer(sub, name=name)
cli_gitops.register(app)

@app.callback()
def _quiet_libraries() -> None:
    """Keep the libraries' progress bars and deprecation chatter out of the CLI's output."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for category in (DeprecationWarning, FutureWarning, UserWarning):
        warnings.filterwarnings("ignore", category=category)


def _context():
    settings = get_settings()
    return settings, load_use_case(settings.use_case)


@data_app.command("generate")
@readable_errors
def data_generate(rows: int = typer.Option(40_000, min=1, help="Number of events."),
                  seed: int = typer.Option(7, help="Random seed: the same seed gives the same data."),
                  scenario: str = typer.Option(None, help="Drift scenario of post-baseline traffic "
                                               "('normal' for none); omit for the labelled baseline.")):
    """Generate labelled baseline events (and the offline feature table) or scenario traffic."""
    from shipyard import data

    settings, use_case = _context()
    if scenario not in (None, "normal"):
        use_case.scenario(scenario)
    with console.status("generating events"):
        path = data.generate(settings, use_case, rows, seed, scenario)
    console.print(f"wrote {rows} events to {path}")


@features_app.command("apply")
@readable_errors
def features_apply():
    """Register the use case's entities, feature views and feature services with Feast."""
    from shipyard import features

    settings, use_case = _context()
    with console.status("applying Feast definitions"):
        applied = features.apply(settings, use_case)
    console.print("applied " + ", ".join(applied))


@features_app.command("materialize")
@readable_errors
def features_materialize():
    """Load the latest feature values into the online store."""
    from shipyard import features

    settings, _ = _context()
    with console.status("materializing features into the online store"):
        start, end = features.materialize(settings)
    console.print(f"materialized features from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}")


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
    settings, _ = _context()
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


@app.command("serve")
@readable_errors
def serve(port: int = typer.Option(8080, help="HTTP port of the KServe ModelServer.")):
    """Serve the champion (or SHIPYARD_MODEL_VERSION) with KServe and Feast online features."""
    from components.serving.server import serve as serve_model

    settings, use_case = _context()
    serve_model(settings, use_case, port)


@monitor_app.command("drift")
@readable_errors
def monitor_drift(window: int = typer.Option(None, min=2, help="Newest N predictions (default: all)."),
                  metrics_file: Path = typer.Option(None, help="Also write the metrics in Prometheus text "
                                                    "format (default: reports/drift.prom).")):
    """Compare recent predictions with the model's training data (Evidently)."""
    from monitoring.drift import run_drift_job
    from monitoring.exporter import DriftMetrics
    from shipyard.summary import drift_table

    settings, use_case = _context()
    with console.status("computing drift with Evidently"):
        result = run_drift_job(settings, use_case, window)
    metrics = DriftMetrics()
    metrics.record(result)
    metrics.write(metrics_file or settings.reports_dir / "drift.prom")
    console.print(drift_table(result))
    console.print(f"Evidently report: {result.report_path}")


@monitor_app.command("serve")
@readable_errors
def monitor_serve(port: int = typer.Option(9108, help="Port of the /metrics endpoint."),
                  interval: float = typer.Option(60.0, min=1.0, help="Seconds between drift runs."),
                  window: int = typer.Option(None, min=2, help="Newest N predictions per run.")):
    """Run the drift job on a schedule and serve its Prometheus metrics."""
    from monitoring.exporter import serve as serve_metrics

    settings, use_case = _context()
    console.print(f"serving drift metrics on http://127.0.0.1:{port}/metrics every {interval:g}s")
    serve_metrics(settings, use_case, port, interval, window)


@app.command("demo")
@readable_errors
def demo(rows: int = typer.Option(40_000, min=2_000, help="Baseline events to generate."),
         traffic: int = typer.Option(1_500, min=100, help="Requests replayed per traffic phase."),
         scenario: str = typer.Option("amount_inflation", help="Drift scenario of the second phase.")):
    """The whole loop: data, features, training pipeline, serving, traffic, drift, metrics."""
    from shipyard.demo import run_demo

    settings, use_case = _context()
    use_case.scenario(scenario)
    run_demo(settings, use_case, console, rows=rows, traffic=traffic, scenario=scenario)


def main() -> None:
    sys.exit(app())


if __name__ == "__main__":
    main()
