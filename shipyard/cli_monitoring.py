"""`shipyard monitor ...`: the drift job and its Prometheus exporter."""

from __future__ import annotations

from pathlib import Path

import typer

from shipyard.cli_context import context
from shipyard.cli_errors import console, readable_errors

monitor_app = typer.Typer(help="Drift monitoring with Evidently and Prometheus.", no_args_is_help=True)


@monitor_app.command("drift")
@readable_errors
def monitor_drift(window: int = typer.Option(None, min=2, help="Newest N predictions (default: all)."),
                  metrics_file: Path = typer.Option(None, help="Also write the metrics in Prometheus text "
                                                    "format (default: reports/drift.prom).")):
    """Compare recent predictions with the model's training data (Evidently)."""
    from monitoring.drift import run_drift_job
    from monitoring.exporter import DriftMetrics
    from shipyard.summary import drift_table

    settings, use_case = context()
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

    settings, use_case = context()
    console.print(f"serving drift metrics on http://127.0.0.1:{port}/metrics every {interval:g}s")
    serve_metrics(settings, use_case, port, interval, window)


def register(app: typer.Typer) -> None:
    app.add_typer(monitor_app, name="monitor")
