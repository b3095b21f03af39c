"""Alertmanager webhook -> retraining: which firing alerts start a run, and only one per incident.

An alert's idempotency key is its name, model, fingerprint (its label set) and ``startsAt``: the
same firing alert re-sent by Alertmanager (repeat, group updates, restarts) gives the same key, and
only a resolve followed by a new firing gives a new one. Several drift alerts of one incident
(a feature, the score, the share) have different keys, so a per-model cooldown makes the first one
start the run and the others wait it out. The ledger is a file, so a restarted monitor remembers.

The monitor retrains the one model it serves: an alert whose ``model`` label names another model
is refused (the caller cannot choose what is retrained or which cooldown applies), and at most
``max_runs_per_hour`` runs start per rolling hour whatever the alerts say.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

RETRAIN_CATEGORIES = frozenset({"drift", "quality"})  # alert label `category` that starts retraining
DEFAULT_COOLDOWN_SECONDS = 6 * 3600.0
DEFAULT_MAX_RUNS_PER_HOUR = 2
HOUR = 3600.0
Action = Literal["start", "duplicate", "cooldown", "ignored", "wrong_model", "rate_limited"]
REFUSALS: frozenset[Action] = frozenset({"wrong_model", "rate_limited"})  # counted and logged as refused calls


class WebhookPayloadError(ValueError):
    """The request is not an Alertmanager webhook payload (answered with HTTP 400)."""


@dataclass(frozen=True)
class Alert:
    name: str
    status: str
    model: str
    category: str
    fingerprint: str
    starts_at: str
    summary: str

    @property
    def idempotency_key(self) -> str:
        raw = f"{self.name}-{self.model}-{self.fingerprint}-{self.starts_at}"
        return re.sub(r"[^A-Za-z0-9._-]+", "-", raw).strip("-")


@dataclass(frozen=True)
class Decision:
    action: Action
    alert: str
    model: str
    idempotency_key: str
    reason: str


def parse_payload(payload: object) -> list[Alert]:
    """The alerts of an Alertmanager webhook payload (version 4), or a WebhookPayloadError."""
    if not isinstance(payload, dict):
        raise WebhookPayloadError("the body must be a JSON object (Alertmanager webhook payload)")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise WebhookPayloadError("field 'alerts' must be a list")
    parsed = []
    for i, alert in enumerate(alerts):
        labels = alert.get("labels") if isinstance(alert, dict) else None
        if not isinstance(labels, dict) or not isinstance(labels.get("alertname"), str):
            raise WebhookPayloadError(f"alerts[{i}].labels.alertname is missing")
        status, starts_at = alert.get("status"), alert.get("startsAt")
        if status not in ("firing", "resolved"):
            raise WebhookPayloadError(f"alerts[{i}].status must be 'firing' or 'resolved', not {status!r}")
        if not isinstance(starts_at, str) or not starts_at:
            raise WebhookPayloadError(f"alerts[{i}].startsAt is missing")
        annotations = alert.get("annotations") if isinstance(alert.get("annotations"), dict) else {}
        fingerprint = alert.get("fingerprint") or ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        parsed.append(Alert(labels["alertname"], status, str(labels.get("model", "")),
                            str(labels.get("category", "")), str(fingerprint), starts_at,
                            str(annotations.get("summary", labels["alertname"]))))
    return parsed


def decide(alerts: list[Alert], ledger: list[dict], now: float, cooldown_seconds: float, *, model: str,
           max_runs_per_hour: int = DEFAULT_MAX_RUNS_PER_HOUR) -> list[Decision]:
    """What to do with each alert, given the runs already started (newest last).

    ``model`` is the model the monitor serves: the only one it retrains, whose runs key the
    cooldown and the hourly cap.
    """
    runs = [run for run in ledger if run["model"] == model]
    keys = {run["idempotency_key"] for run in runs}
    starts = [run["started_at"] for run in runs]
    decisions = []
    for alert in alerts:
        key = replace(alert, model=model).idempotency_key  # the served model, whatever the label says
        if alert.status != "firing" or alert.category not in RETRAIN_CATEGORIES:
            decisions.append(Decision("ignored", alert.name, alert.model, key,
                                      f"{alert.status} alert of category {alert.category or 'none'}"))
        elif alert.model != model:
            decisions.append(Decision("wrong_model", alert.name, alert.model, key,
                                      f"this monitor retrains model {model!r}, not {alert.model!r}"))
        elif key in keys:
            decisions.append(Decision("duplicate", alert.name, model, key, "this alert already started a run"))
        elif starts and now - max(starts) < cooldown_seconds:
            decisions.append(Decision("cooldown", alert.name, model, key,
                                      f"a retraining of {model} started less than {cooldown_seconds:g}s ago"))
        elif sum(now - started < HOUR for started in starts) >= max_runs_per_hour:
            decisions.append(Decision("rate_limited", alert.name, model, key,
                                      f"{max_runs_per_hour} retrainings of {model} already started in the last hour"))
        else:
            decisions.append(Decision("start", alert.name, model, key, alert.summary))
            keys.add(key)
            starts.append(now)
    return decisions


class RetrainingTrigger:
    """Applies decisions: starts runs one at a time in the background and keeps the ledger."""

    def __init__(self, ledger_path: Path, start_run: Callable[[str, str], object], *, model: str,
                 cooldown_seconds: float = DEFAULT_COOLDOWN_SECONDS,
                 max_runs_per_hour: int = DEFAULT_MAX_RUNS_PER_HOUR, clock: Callable[[], float] | None = None):
        import time

        if max_runs_per_hour < 1:
            raise ValueError(f"max_runs_per_hour must be at least 1, not {max_runs_per_hour}")
        self.ledger_path = ledger_path
        self.model = model  # the model this monitor serves, the only one it retrains
        self.max_runs_per_hour = max_runs_per_hour
        self.start_run = start_run  # (reason, idempotency_key) -> outcome with .describe()
        self.cooldown_seconds = cooldown_seconds
        self.clock = clock or time.time
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="retraining")
        self._futures: list[Future] = []

    def runs(self) -> list[dict]:
        with self._lock:
            return self._read()

    def _read(self) -> list[dict]:
        return json.loads(self.ledger_path.read_text())["runs"] if self.ledger_path.exists() else []

    def _write(self, runs: list[dict]) -> None:
        self.ledger_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.ledger_path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"runs": runs}, indent=2))
        temporary.replace(self.ledger_path)

    def handle(self, payload: object) -> list[Decision]:
        alerts = parse_payload(payload)
        with self._lock:
            runs = self._read()
            now = self.clock()
            decisions = decide(alerts, runs, now, self.cooldown_seconds, model=self.model,
                               max_runs_per_hour=self.max_runs_per_hour)
            for decision in decisions:
                if decision.action == "start":
                    runs.append({**asdict(decision), "started_at": now, "status": "running", "outcome": None})
            self._write(runs)
        for decision in decisions:
            if decision.action == "start":
                reason = f"{decision.alert}: {decision.reason}"
                self._futures.append(self._executor.submit(self._run, reason, decision.idempotency_key))
        return decisions

    def _run(self, reason: str, key: str) -> None:
        try:
            outcome = self.start_run(reason, key)
            failed = getattr(outcome, "status", None) == "failed"
            status, text = "failed" if failed else "finished", getattr(outcome, "describe", lambda: str(outcome))()
            record = outcome.to_record() if hasattr(outcome, "to_record") else None
        except Exception as exc:  # recorded in the ledger; the monitor keeps serving
            status, text, record = "failed", f"{type(exc).__name__}: {exc}", None
        with self._lock:
            runs = self._read()
            for run in runs:
                if run["idempotency_key"] == key:
                    run.update(status=status, outcome=text, record=record, finished_at=self.clock())
            self._write(runs)

    def wait(self, timeout: float | None = None) -> None:
        for future in list(self._futures):
            future.result(timeout)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
