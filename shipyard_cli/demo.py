"""`make demo`: the whole lab-to-production loop on this machine, with progress and a summary."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from shipyard import data, features
from shipyard.settings import Settings
from shipyard.uris import mask_password
from shipyard.usecase import UseCase
from shipyard_cli.processes import free_port, start_predictor

SEED = 7


@dataclass
class Phase:
    name: str
    stats: object = None
    drift: object = None


@contextmanager
def _step(console: Console, text: str):
    with console.status(text):
        yield
    console.print(f"[green]✓[/green] {text}")


def _replay_phase(console: Console, url: str, events: pd.DataFrame, use_case: UseCase, label: str):
    from shipyard_cli.replay import replay

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"replaying {label} traffic", total=len(events))
        stats = replay(url, events, use_case, on_progress=lambda n: progress.update(task, completed=n))
    console.print(f"[green]✓[/green] replayed {label} traffic: {stats.ok}/{stats.requests} answered, "
                  f"p50 {stats.p50_ms:.1f} ms, p99 {stats.p99_ms:.1f} ms")
    return stats


def _alert_loop(console: Console, settings: Settings, drift_onset: float, port: int, window_rows: int):
    """Prometheus + Alertmanager + the monitor on this machine: drift -> alert firing -> retraining."""
    from shipyard_cli.alert_stack import ToolMissing
    from shipyard_cli.drift_loop import run_drift_loop

    try:
        with _step(console, "Prometheus + Alertmanager + monitor: drift detected → alert firing → retraining"):
            loop = run_drift_loop(settings, settings.home / "monitoring-stack", drift_onset, predictor_port=port,
                                  window_rows=window_rows, on_step=lambda text: console.print(f"  {text}"))
    except ToolMissing as exc:  # prometheus/alertmanager not installed: the rest of the demo still stands
        console.print(f"[yellow]alert loop skipped:[/yellow] {exc}")
        return None
    console.print(f"  {loop.alert} firing {loop.seconds_to_firing:.0f}s after drift onset; retraining "
                  f"{loop.idempotency_key} started at {loop.seconds_to_retraining:.0f}s: {loop.retraining_outcome}")
    return loop


def _scrape_metrics(metrics) -> list[str]:
    """Serve the drift metrics on /metrics for a moment and read them back, as Prometheus would."""
    from prometheus_client import start_http_server

    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=metrics.registry)
    try:
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        server.shutdown()
        thread.join()
    return [line for line in body.splitlines() if line.startswith(("shipyard_drift_share", "shipyard_feature_drifted"))]


def run_demo(settings: Settings, use_case: UseCase, console: Console, *, rows: int, traffic: int,
             scenario: str, alert_loop: bool = True) -> None:
    from monitoring.drift import run_drift_job
    from monitoring.exporter import DriftMetrics
    from pipelines.runs import run_training
    from shipyard_cli.summary import drift_table

    console.rule(f"Shipyard demo: {use_case.name} ({settings.profile} profile, state in {settings.home})")
    with _step(console, f"generated {rows} labelled events and {traffic} events of normal and {scenario} traffic"):
        data.generate(settings, use_case, rows, SEED, None)
        for phase in ("normal", scenario):
            data.generate(settings, use_case, traffic, SEED, phase)
    with _step(console, "applied Feast definitions and materialized the online store"):
        features.apply(settings, use_case)
        features.materialize(settings)
    steps = "features → validate → train → evaluate → register → gate"
    with _step(console, f"ran the training pipeline (kfp.local): {steps}"):
        outcome = run_training(settings)
    console.print(f"  {outcome.describe()}")
    console.print(f"  validation report: {outcome.validation_report}")

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    phases = [Phase("normal"), Phase(scenario)]
    with _step(console, f"started the KServe predictor on {url}"):
        server = start_predictor(port, settings.home / "logs" / "serve.log", {"SHIPYARD_HOME": str(settings.home)},
                                 use_case.model_name)
    try:
        served_version = httpx.post(f"{url}/v1/models/{use_case.model_name}:predict", timeout=10, json={
            "instances": [use_case.generate(1, SEED, "normal")[[f.name for f in use_case.request_fields]]
                          .to_dict("records")[0]]}).json()["model_version"]
        for phase in phases:
            events = pd.read_parquet(data.events_path(settings, phase.name))
            drift_onset = time.time()  # the last phase is the drifted one
            phase.stats = _replay_phase(console, url, events, use_case, phase.name)
            with _step(console, f"computed drift of the {phase.name} window with Evidently"):
                phase.drift = run_drift_job(settings, use_case, window_rows=len(events))
        loop = _alert_loop(console, settings, drift_onset, port, len(events)) if alert_loop else None
    finally:
        server.stop()
    console.print("[green]✓[/green] stopped the predictor")

    metrics_file = settings.reports_dir / "drift.prom"
    metrics = DriftMetrics()
    metrics.record(phases[-1].drift)
    metrics.write(metrics_file)
    scraped = _scrape_metrics(metrics)
    _summary(console, settings, outcome, served_version, phases, metrics_file, scraped, loop)
    for phase in phases:
        console.print(drift_table(phase.drift, title=f"Drift: {phase.name} traffic vs training data"))


def _summary(console: Console, settings: Settings, outcome, served_version: str, phases: list[Phase],
             metrics_file, scraped: list[str], loop) -> None:
    table = Table(title="Shipyard demo summary", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("model", f"{outcome.model_name} version {outcome.version} "
                  f"({'champion' if outcome.promoted else 'not promoted'}); served version {served_version}")
    table.add_row("gate", f"challenger v{outcome.challenger_version} (champion before: "
                  f"{outcome.previous_champion or 'none'}): {outcome.gate}")
    table.add_row("validation report", str(outcome.validation_report))
    table.add_row("evaluation", ", ".join(f"{k} {v:.4f}" for k, v in sorted(outcome.metrics.items())
                                          if not k.startswith("holdout")))
    for phase in phases:
        drifted = [f.feature for f in phase.drift.features if f.drifted]
        table.add_row(f"{phase.name} traffic", f"{phase.stats.ok}/{phase.stats.requests} answered, "
                      f"p50 {phase.stats.p50_ms:.1f} ms, p99 {phase.stats.p99_ms:.1f} ms")
        table.add_row(f"{phase.name} drift", f"drifted: {', '.join(drifted) or 'none'} "
                      f"(share {phase.drift.drift_share:.2f})")
        table.add_row(f"{phase.name} report", phase.drift.report_path)
    table.add_row("MLflow UI", f"mlflow ui --backend-store-uri {mask_password(settings.mlflow_tracking_uri)}")
    table.add_row("metrics", f"{metrics_file} (live: shipyard monitor serve --port 9108)")
    table.add_row("scraped /metrics", "\n".join(scraped))
    table.add_row("prediction log", str(settings.prediction_log_dir))
    if loop is not None:
        table.add_row("alert loop", f"{loop.alert} firing {loop.seconds_to_firing:.0f}s after drift onset → "
                      f"retraining ({loop.retraining_status}) at {loop.seconds_to_retraining:.0f}s: "
                      f"{loop.retraining_outcome}")
    console.print(table)
