"""`shipyard monitor ...`: the drift job and its Prometheus exporter."""

from __future__ import annotations

from pathlib import Path

import typer

from shipyard_cli.context import context
from shipyard_cli.errors import as_user_error, console, readable_errors

monitor_app = typer.Typer(help="Drift monitoring with Evidently and Prometheus.", no_args_is_help=True)


@monitor_app.command("drift")
@readable_errors
def monitor_drift(window: int = typer.Option(None, min=2, help="Newest N predictions (default: all)."),
                  minutes: float = typer.Option(None, min=0.1, help="Only predictions of the last M minutes."),
                  metrics_file: Path = typer.Option(None, help="Also write the metrics in Prometheus text "
                                                    "format (default: reports/drift.prom).")):
    """Compare recent predictions with the model's training data (Evidently)."""
    from monitoring.drift import run_drift_job
    from monitoring.exporter import DriftMetrics
    from monitoring.window import window_start
    from shipyard_cli.summary import drift_table

    settings, use_case = context("drift-monitor")  # its services checked at start, in one line
    with console.status("computing drift with Evidently"):
        with as_user_error(LookupError, FileNotFoundError):  # no model trained, nothing logged yet
            result = run_drift_job(settings, use_case, window, since=window_start(minutes))
    metrics = DriftMetrics()
    metrics.record(result)
    metrics.write(metrics_file or settings.reports_dir / "drift.prom")
    console.print(drift_table(result))
    console.print(f"Evidently report: {result.report_path}")


@monitor_app.command("serve")
@readable_errors
def monitor_serve(port: int = typer.Option(9108, help="Port of /metrics and the Alertmanager webhook."),
                  host: str = typer.Option("0.0.0.0", help="Address to listen on (127.0.0.1 keeps the webhook "
                                           "local; the cluster manifest relies on all interfaces)."),
                  interval: float = typer.Option(60.0, min=1.0, help="Seconds between drift runs."),
                  window: int = typer.Option(None, min=2, help="Newest N predictions per run."),
                  minutes: float = typer.Option(None, min=0.1, help="Only predictions of the last M minutes."),
                  cooldown: float = typer.Option(6 * 3600.0, min=0.0, help="Seconds after a retraining "
                                                 "started by an alert during which other alerts start none."),
                  max_runs_per_hour: int = typer.Option(2, min=1, help="At most this many retrainings started "
                                                        "by alerts in any hour, whatever the cooldown.")):
    """Run the drift job on a schedule, serve its metrics and the retraining webhook.

    The webhook requires `Authorization: Bearer $SHIPYARD_WEBHOOK_TOKEN`; without that variable it
    refuses every call.
    """
    import logging

    from monitoring.service import default_start_run, serve
    from monitoring.webhook import RetrainingTrigger

    settings, use_case = context("drift-monitor")
    # The monitor's own decisions at INFO; the libraries' chatter only from WARNING up.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("monitoring").setLevel(logging.INFO)
    trigger = RetrainingTrigger(settings.home / "monitor" / "retraining.json", default_start_run(settings),
                                model=use_case.model_name, cooldown_seconds=cooldown,
                                max_runs_per_hour=max_runs_per_hour)
    console.print(f"serving drift metrics on http://{host}:{port}/metrics every {interval:g}s; "
                  f"Alertmanager webhook at /hooks/alertmanager")
    serve(settings, use_case, port, interval, window, host=host, trigger=trigger, window_minutes=minutes)


def register(app: typer.Typer) -> None:
    app.add_typer(monitor_app, name="monitor")
