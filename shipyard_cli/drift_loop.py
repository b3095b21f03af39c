"""Drift detected -> alert firing -> retraining started, watched on a live local stack (the demo's end)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shipyard.settings import Settings
from shipyard_cli.alert_stack import MonitoringStack
from shipyard_cli.processes import poll

RETRAIN_CATEGORIES = ("drift", "quality")


@dataclass(frozen=True)
class DriftLoopOutcome:
    alert: str
    alert_labels: dict[str, str]
    seconds_to_firing: float  # drift onset -> Prometheus reports the alert firing
    seconds_to_retraining: float  # drift onset -> the webhook has started a retraining run
    idempotency_key: str
    retraining_status: str  # running | finished | failed
    retraining_outcome: str | None
    runs_started: int  # retraining runs the webhook started (one per incident)
    workdir: str  # configs and logs of Prometheus, Alertmanager and the monitor


def watch_drift_loop(stack: MonitoringStack, drift_onset: float, *, timeout: float = 240.0,
                     wait_for_retraining: float | None = None,
                     on_step: Callable[[str], None] | None = None) -> DriftLoopOutcome:
    """Wait on a started stack until a drift alert fires and the webhook starts retraining.

    ``drift_onset`` is the unix time the drifted traffic began. With ``wait_for_retraining`` (seconds)
    it also waits for that run to finish, so its outcome (the gate's verdict) is known.
    """
    say = on_step or (lambda _: None)

    def firing_drift_alert():
        return next((a for a in stack.alerts("firing") if a["labels"].get("category") in RETRAIN_CATEGORIES), None)

    alert = poll(firing_drift_alert, timeout, "no drift alert fired")
    fired = time.time() - drift_onset
    say(f"alert {alert['labels']['alertname']} firing {fired:.0f}s after drift onset")
    runs = poll(stack.retraining_runs, max(timeout - fired, 30.0), "the webhook started no retraining")
    started = time.time() - drift_onset
    say(f"retraining started by the webhook {started:.0f}s after drift onset ({runs[0]['idempotency_key']})")
    if wait_for_retraining:
        runs = poll(lambda: [r for r in stack.retraining_runs() if r["status"] != "running"],
                     wait_for_retraining, "the retraining run did not finish")
        say(f"retraining {runs[0]['status']}: {runs[0]['outcome']}")
    first = runs[0]
    return DriftLoopOutcome(alert["labels"]["alertname"], alert["labels"], fired, started, first["idempotency_key"],
                            first["status"], first.get("outcome"), len(stack.retraining_runs()), str(stack.workdir))


def run_drift_loop(settings: Settings, workdir: Path, drift_onset: float, *, predictor_port: int | None = None,
                   window_rows: int | None = None, timeout: float = 240.0, retraining_timeout: float = 600.0,
                   on_step: Callable[[str], None] | None = None) -> DriftLoopOutcome:
    """Start the local stack, watch the loop, stop everything.

    It waits for the retraining run to finish before stopping: the run's pipeline steps are the
    monitor's child processes, and stopping the monitor half-way would orphan them.
    """
    with MonitoringStack(settings, workdir, predictor_port=predictor_port, window_rows=window_rows) as stack:
        return watch_drift_loop(stack, drift_onset, timeout=timeout, wait_for_retraining=retraining_timeout,
                                on_step=on_step)
