"""`shipyard monitor serve`: the drift job on a schedule beside the monitor's HTTP side.

The HTTP side (monitoring/http_app.py: /metrics, the Alertmanager webhook, reports) runs on uvicorn
in the main thread, which turns SIGTERM/SIGINT into a graceful shutdown; the drift job runs in a
thread started and stopped by the app's lifespan, so a shutdown lets the current run finish.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

from monitoring.drift import run_drift_job
from monitoring.exporter import DriftMetrics
from monitoring.http_app import build_app
from monitoring.webhook import RetrainingTrigger
from monitoring.window import window_start
from shipyard.settings import Settings
from shipyard.uris import mask_passwords
from shipyard.usecase import UseCase

log = logging.getLogger(__name__)


def default_start_run(settings: Settings):
    def start(reason: str, idempotency_key: str):
        from pipelines.runs import run_retraining

        return run_retraining(settings, reason=reason, idempotency_key=idempotency_key)
    return start


def run_once(settings: Settings, use_case: UseCase, metrics: DriftMetrics, window_rows: int | None,
             window_minutes: float | None = None) -> bool:
    """One drift run into ``metrics``; a failure counts an error and keeps the last good values."""
    from shipyard import registry

    started = time.perf_counter()
    try:
        result = run_drift_job(settings, use_case, window_rows, since=window_start(window_minutes))
    except Exception as exc:
        log.warning("drift job failed: %s", mask_passwords(str(exc)))
        try:
            version = str(registry.resolve_version(settings, use_case.model_name))
        except LookupError:
            version = "none"
        metrics.record_failure(use_case.model_name, version)
        return False
    metrics.record(result, time.perf_counter() - started)
    _record_holdout(settings, metrics, result.model_name, result.model_version, use_case.is_regression)
    return True


def _record_holdout(settings: Settings, metrics: DriftMetrics, model_name: str, version: int,
                    regression: bool = False) -> None:
    from monitoring.holdout import holdout_quality

    try:
        quality = holdout_quality(settings, model_name, version, regression)
    except Exception as exc:  # the drift gauges stand; only the quality-drop alert lacks its baseline
        log.warning("holdout metrics of %s v%s unavailable: %s", model_name, version, mask_passwords(str(exc)))
        return
    if quality is not None:
        metrics.record_holdout(model_name, version, quality)


def run_scheduled(settings: Settings, use_case: UseCase, metrics: DriftMetrics, interval_seconds: float,
                  window_rows: int | None, stop: threading.Event, window_minutes: float | None = None) -> None:
    """Run the drift job every ``interval_seconds`` until ``stop`` is set."""
    while not stop.is_set():
        started = time.perf_counter()
        run_once(settings, use_case, metrics, window_rows, window_minutes)
        stop.wait(max(0.0, interval_seconds - (time.perf_counter() - started)))


def serve(settings: Settings, use_case: UseCase, port: int, interval_seconds: float, window_rows: int | None,
          *, host: str = "127.0.0.1", trigger: RetrainingTrigger | None = None,
          window_minutes: float | None = None) -> None:
    """Serve until SIGTERM or SIGINT; the drift run under way and a started retraining finish first."""
    import uvicorn

    metrics = DriftMetrics()
    trigger = trigger or RetrainingTrigger(settings.home / "monitor" / "retraining.json",
                                           default_start_run(settings), model=use_case.model_name)

    @contextlib.asynccontextmanager
    async def drift_schedule(_app):
        stop = threading.Event()
        worker = threading.Thread(target=run_scheduled, name="drift-schedule", daemon=True,
                                  args=(settings, use_case, metrics, interval_seconds, window_rows, stop,
                                        window_minutes))
        worker.start()
        try:
            yield
        finally:
            stop.set()
            worker.join()
            trigger.close()

    if not settings.webhook_token:
        log.warning("SHIPYARD_WEBHOOK_TOKEN is not set: the retraining webhook refuses every call")
    log.info("monitoring %s with the MLflow registry at %s", use_case.model_name,
                mask_passwords(settings.mlflow_tracking_uri))
    app = build_app(metrics.registry, trigger, settings.reports_dir, settings.webhook_token, drift_schedule)
    # Alertmanager and Prometheus call often: no access log.
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, access_log=False, log_level="warning",
                                  lifespan="on")).run()
