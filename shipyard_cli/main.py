"""The ``shipyard`` command line. Heavy libraries are imported inside commands, so ``--help`` is instant."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import typer

from shipyard_cli import gitops_commands, monitoring_commands, pipeline_commands, serving_commands, usecase_commands
from shipyard_cli.context import context, scenario_of
from shipyard_cli.errors import OneLineErrors, UserError, console, readable_errors

app = typer.Typer(cls=OneLineErrors, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Shipyard: train, register, serve and monitor models on the Kubeflow stack. A mistake "
                       "ends with one `error:` line and exit code 1; add --debug to see the traceback of an "
                       "unexpected error.")
data_app = typer.Typer(help="Generate the use case's seeded data.", no_args_is_help=True)
features_app = typer.Typer(help="Feast feature definitions and the online store.", no_args_is_help=True)
for sub, name in ((data_app, "data"), (features_app, "features")):
    app.add_typer(sub, name=name)
# Each area keeps its commands in its own module.
for area in (pipeline_commands, serving_commands, monitoring_commands, gitops_commands, usecase_commands):
    area.register(app)


@app.callback()
def _common_options(use_case: str = typer.Option(None, "--use-case", metavar="NAME",
                                                 help="Use case to work with (default: SHIPYARD_USE_CASE, "
                                                      "else fraud).")) -> None:
    """Select the use case; keep the libraries' progress bars and warnings out of the CLI's output.

    Filters are not enough: Feast re-installs "once" filters for its warning categories when it
    is imported, mid-command. Users of the CLI cannot act on library deprecations anyway.
    """
    if use_case:
        os.environ["SHIPYARD_USE_CASE"] = use_case  # the one place settings are read from
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # not "Creating initial MLflow database tables..."
    warnings.showwarning = lambda *args, **kwargs: None


@data_app.command("generate")
@readable_errors
def data_generate(rows: int = typer.Option(40_000, min=1, help="Number of events."),
                  seed: int = typer.Option(7, help="Random seed: the same seed gives the same data."),
                  scenario: str = typer.Option(None, help="Drift scenario of post-baseline traffic "
                                               "('normal' for none); omit for the labelled baseline.")):
    """Generate labelled baseline events (and the offline feature table) or scenario traffic."""
    from shipyard import data

    settings, use_case = context()
    if scenario not in (None, "normal"):
        scenario_of(use_case, scenario)
    with console.status("generating events"):
        path = data.generate(settings, use_case, rows, seed, scenario)
    console.print(f"wrote {rows} events to {path}")


@features_app.command("apply")
@readable_errors
def features_apply():
    """Register the use case's entities, feature views and feature services with Feast."""
    from shipyard import features

    settings, use_case = context("materializer")  # the same services as the materialization job
    with console.status("applying Feast definitions"):
        applied = features.apply(settings, use_case)
    console.print("applied " + ", ".join(applied))


@features_app.command("materialize")
@readable_errors
def features_materialize(metrics_file: Path = typer.Option(None, help="Where to write the freshness metrics in "
                                                           "Prometheus text format (default: "
                                                           "reports/feature_freshness.prom).")):
    """Load what is new in the offline store into the online store (incremental, chunked)."""
    from shipyard import feature_freshness, features

    settings, _ = context("materializer")
    with console.status("materializing features into the online store"):
        done = features.materialize_incremental(settings)
    if not done:
        raise UserError("no feature views in the Feast registry: run `shipyard features apply` first")
    feature_freshness.export(done, metrics_file or settings.reports_dir / "feature_freshness.prom",
                             settings.pushgateway_url)
    for view in done:
        newest = f"{view.newest_event:%Y-%m-%d %H:%M}" if view.newest_event else "none"
        console.print(f"materialized {view.view} from {view.start:%Y-%m-%d %H:%M} to {view.end:%Y-%m-%d %H:%M} "
                      f"in {view.chunks} chunks; newest feature row {newest}", highlight=False, soft_wrap=True)


@app.command("demo")
@readable_errors
def demo(rows: int = typer.Option(40_000, min=2_000, help="Baseline events to generate."),
         traffic: int = typer.Option(1_500, min=100, help="Requests replayed per traffic phase."),
         scenario: str = typer.Option(None, help="Drift scenario of the second phase (default: the use case's "
                                      "demo scenario, one that degrades the champion)."),
         alert_loop: bool = typer.Option(True, help="End with Prometheus + Alertmanager: drift alert firing "
                                         "and the retraining it starts (about 2.5 more minutes).")):
    """The whole loop: data, features, training pipeline, serving, traffic, drift, metrics."""
    from shipyard_cli.demo import run_demo
    from shipyard_cli.processes import unwind_on_sigterm

    unwind_on_sigterm()  # every server it started is stopped on the way out
    settings, use_case = context()
    scenario = scenario or use_case.demo_scenario or next(iter(use_case.scenarios))
    scenario_of(use_case, scenario)
    run_demo(settings, use_case, console, rows=rows, traffic=traffic, scenario=scenario, alert_loop=alert_loop)


@app.command("demo-prod")
@readable_errors
def demo_prod(rows: int = typer.Option(20_000, min=2_000, help="Baseline events to generate."),
              traffic: int = typer.Option(1_000, min=100, help="Requests replayed per traffic phase."),
              scenario: str = typer.Option(None, help="Drift scenario of the second phase (default: the use "
                                           "case's demo scenario)."),
              workdir: Path = typer.Option(None, help="Keep the run's folders and logs here (default: a "
                                           "temporary folder, deleted at the end)."),
              alert_loop: bool = typer.Option(True, help="End with Prometheus + Alertmanager: drift alert "
                                              "firing and the retraining it starts.")):
    """The whole loop in the production shape: separate processes with empty homes, services only shared."""
    from shipyard.usecase import load_use_case
    from shipyard_cli.processes import unwind_on_sigterm
    from shipyard_cli.prod_demo import describe, run_prod_demo

    unwind_on_sigterm()  # every server stopped and the run's database dropped on the way out

    use_case = load_use_case(os.environ.get("SHIPYARD_USE_CASE", "fraud"))
    scenario = scenario or use_case.demo_scenario or next(iter(use_case.scenarios))
    use_case.scenario(scenario)
    console.rule(f"Shipyard production-shape demo: {use_case.name}")
    outcome = run_prod_demo(use_case, rows=rows, traffic=traffic, scenario=scenario, workdir=workdir,
                            alert_loop=alert_loop, say=lambda text: console.print(text, highlight=False,
                                                                                  soft_wrap=True))
    for line in describe(outcome):
        console.print(line, highlight=False, soft_wrap=True)


def main() -> None:
    sys.exit(app(prog_name="shipyard"))


if __name__ == "__main__":
    main()
