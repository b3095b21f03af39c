"""`make demo`: the whole lab-to-production loop on this machine, with progress and a summary.

The story: a champion is trained on the baseline; normal traffic, then traffic of a drift scenario
that changes how the label relates to the inputs, is scored by the predictor; time passes, so that
traffic and its late labels reach the offline store; retraining (started by the drift alert, or directly
when Prometheus is not installed) trains on a window that includes the post-drift labels; the gate
compares challenger and champion on the newest window and promotes the challenger if it is better.

Each run starts from a fresh local state (the world is regenerated from the same seed), so the
summary describes this run and nothing else.
"""

from __future__ import annotations

import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from shipyard import data, features, registry
from shipyard.settings import Settings
from shipyard.uris import mask_password
from shipyard.usecase import UseCase
from shipyard_cli.processes import free_port, start_predictor
from shipyard_cli.replay import wait_until_logged

SEED = 7
LABEL_WAIT = pd.Timedelta(days=14)  # how long the demo lets chargebacks arrive after the drifted week
# Local state the demo regenerates; a remote MLflow or offline store (prod profile) is left alone.
STATE_DIRS = ("data", "feast", "kfp", "logs", "reports", "runs", "monitor", "monitoring-stack", "mlflow", "cache")


@dataclass
class Phase:
    name: str
    stats: object = None
    drift: object = None


@dataclass
class DemoRun:
    """Everything the summary reports, collected while this run happens."""

    started_at: str
    model_name: str
    home: Path
    trained: list = field(default_factory=list)  # TrainingOutcome of every pipeline run of this demo run
    served_version: str | None = None  # what the predictor answered with during the replay
    champion_at_end: int | None = None
    phases: list[Phase] = field(default_factory=list)
    ingested: object = None
    metrics_file: Path | None = None
    scraped: list[str] = field(default_factory=list)
    loop: object = None  # DriftLoopOutcome, or None when the alert loop did not run
    mlflow_tracking_uri: str = ""
    prediction_log: Path | None = None
    offline_store: str = ""


@contextmanager
def _step(console: Console, doing: str, done: str):
    """A spinner saying what is happening now, then a tick saying what was done."""
    with console.status(doing):
        yield
    console.print(f"[green]✓[/green] {done}")


def fresh_state(settings: Settings) -> list[Path]:
    """Remove the previous demo's local state under the home (and the local offline store and log)."""
    removed = []
    candidates = [settings.home / name for name in STATE_DIRS]
    local_mlflow = settings.mlflow_tracking_uri.startswith("sqlite:///") and str(settings.home) in \
        settings.mlflow_tracking_uri
    if not local_mlflow:
        candidates.remove(settings.home / "mlflow")
    for extra in (data.offline_root(settings), settings.prediction_log_dir):
        if extra.is_relative_to(settings.home):
            candidates.append(extra)
    for path in candidates:
        if path.exists():
            shutil.rmtree(path)
            removed.append(path)
    return removed


def _replay_phase(console: Console, url: str, events: pd.DataFrame, use_case: UseCase, label: str):
    from shipyard_cli.replay import replay

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    # Piped, a transient bar would leave an empty line behind: no bar then.
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task(f"replaying {label} traffic", total=len(events))
        stats = replay(url, events, use_case, on_progress=lambda n: progress.update(task, completed=n))
    console.print(f"[green]✓[/green] replayed {label} traffic")
    return stats


def _alert_loop(console: Console, settings: Settings, drift_onset: float, port: int, window_rows: int):
    """Prometheus + Alertmanager + the monitor on this machine: drift -> alert firing -> retraining."""
    from shipyard_cli.alert_stack import ToolMissing
    from shipyard_cli.drift_loop import run_drift_loop

    try:
        with _step(console, "running Prometheus + Alertmanager + monitor: waiting for the drift alert and the "
                   "retraining it starts", "alert loop: drift alert fired and retraining finished"):
            return run_drift_loop(settings, settings.home / "monitoring-stack", drift_onset, predictor_port=port,
                                  window_rows=window_rows, on_step=lambda text: console.print(f"  {text}"))
    except ToolMissing as exc:  # prometheus/alertmanager not installed: retrain directly instead
        console.print(f"[yellow]alert loop skipped:[/yellow] {exc}")
        return None


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


def prepare(settings: Settings, use_case: UseCase, console: Console, run: DemoRun, *, rows: int, traffic: int,
            scenario: str, **training) -> None:
    """Fresh state, the generated world, features, and the first champion."""
    from pipelines.runs import run_training

    with _step(console, "removing the previous demo's state", "started from a fresh state"):
        fresh_state(settings)
    with _step(console, f"generating {rows} labelled events and {traffic} events each of normal and {scenario} "
               "traffic", f"generated {rows} labelled events (ingested into the offline store) and {traffic} "
               f"events each of normal and {scenario} traffic"):
        data.generate(settings, use_case, rows, SEED, None)
        for phase in ("normal", scenario):
            data.generate(settings, use_case, traffic, SEED, phase)
    with _step(console, "applying Feast definitions and materializing the online store",
               "applied Feast definitions and materialized the online store"):
        features.apply(settings, use_case)
        features.materialize(settings)
    steps = "window → features → validate → train → evaluate → register → gate"
    with _step(console, f"running the training pipeline (kfp.local): {steps}", "ran the training pipeline"):
        run.trained.append(run_training(settings, **training))


def ingest_drifted(settings: Settings, use_case: UseCase, console: Console, run: DemoRun, scenario: str) -> None:
    """Time passes: the drifted traffic and its chargebacks reach the offline store, features follow."""
    with _step(console, f"ingesting the {scenario} traffic and {LABEL_WAIT.days} days of late labels into the "
               "offline store", f"ingested the {scenario} traffic and {LABEL_WAIT.days} days of late labels; "
               "features recomputed and materialized"):
        run.ingested = data.ingest_scenario(settings, use_case, scenario, LABEL_WAIT)
        features.materialize(settings)


def retrain(settings: Settings, console: Console, run: DemoRun, scenario: str, **training) -> None:
    """The retraining of this run: the alert loop's (read from its record), else started here."""
    from pipelines.runs import recorded_retraining, run_retraining

    if run.loop is not None:
        outcome = recorded_retraining(settings, run.loop.idempotency_key)
        if outcome is not None:
            run.trained.append(outcome)
        return
    with _step(console, "running the retraining pipeline on the newest window", "ran the retraining pipeline"):
        run.trained.append(run_retraining(settings, reason=f"demo: {scenario} traffic",
                                          idempotency_key=f"demo-{run.started_at}", **training))


def finish(settings: Settings, run: DemoRun) -> None:
    run.champion_at_end = registry.alias_version(settings, run.model_name, registry.CHAMPION)


def new_run(settings: Settings, use_case: UseCase) -> DemoRun:
    """This run's record; what it will print of the settings (the MLflow URI) never shows a password."""
    return DemoRun(datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"), use_case.model_name, settings.home,
                   mlflow_tracking_uri=mask_password(settings.mlflow_tracking_uri),
                   prediction_log=settings.prediction_log_dir, offline_store=settings.offline_store_uri)


def run_demo(settings: Settings, use_case: UseCase, console: Console, *, rows: int, traffic: int,
             scenario: str, alert_loop: bool = True) -> DemoRun:
    from monitoring.drift import run_drift_job
    from monitoring.exporter import DriftMetrics
    from shipyard_cli.summary import drift_table, print_summary

    run = new_run(settings, use_case)
    console.rule(f"Shipyard demo: {use_case.name} ({settings.profile} profile)")
    prepare(settings, use_case, console, run, rows=rows, traffic=traffic, scenario=scenario)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    run.phases = [Phase("normal"), Phase(scenario)]
    with _step(console, "starting the KServe predictor", f"started the KServe predictor on {url}"):
        server = start_predictor(port, settings.home / "logs" / "serve.log",
                                 {"SHIPYARD_HOME": str(settings.home), "SHIPYARD_USE_CASE": use_case.name})
    try:
        run.served_version = httpx.post(f"{url}/v1/models/{use_case.model_name}:predict", timeout=10, json={
            "instances": [use_case.generate(1, SEED, "normal")[[f.name for f in use_case.request_fields]]
                          .to_dict("records")[0]]}).json()["model_version"]
        for phase in run.phases:
            events = pd.read_parquet(data.events_path(settings, phase.name))
            drift_onset = time.time()  # the last phase is the drifted one
            phase.stats = _replay_phase(console, url, events, use_case, phase.name)
            with _step(console, f"computing drift of the {phase.name} window with Evidently",
                       f"computed drift of the {phase.name} window"):
                wait_until_logged(settings.prediction_log_dir, phase.stats.ok, datetime.fromtimestamp(drift_onset, UTC))
                phase.drift = run_drift_job(settings, use_case, window_rows=len(events))
        # The labels reach the store before the alert's retraining reads its window.
        ingest_drifted(settings, use_case, console, run, scenario)
        if alert_loop:
            run.loop = _alert_loop(console, settings, drift_onset, port, len(events))
    finally:
        server.stop()
    console.print("[green]✓[/green] stopped the predictor")
    retrain(settings, console, run, scenario)

    run.metrics_file = settings.reports_dir / "drift.prom"
    metrics = DriftMetrics()
    metrics.record(run.phases[-1].drift)
    metrics.write(run.metrics_file)
    run.scraped = _scrape_metrics(metrics)
    finish(settings, run)
    print_summary(console, run)
    for phase in run.phases:
        console.print(drift_table(phase.drift, title=f"Drift: {phase.name} traffic vs training data"))
    return run
