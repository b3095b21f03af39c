"""Prometheus metrics of the drift job: a text file after each run, or a /metrics endpoint."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server, write_to_textfile

from monitoring.drift import DriftResult, run_drift_job
from shipyard.settings import Settings
from shipyard.usecase import UseCase

log = logging.getLogger(__name__)


class DriftMetrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        model = ["model", "version"]
        self.feature_score = Gauge("shipyard_feature_drift_score", "Evidently drift score per feature.",
                                   [*model, "feature"], registry=self.registry)
        self.feature_drifted = Gauge("shipyard_feature_drifted", "1 when Evidently finds the feature drifted.",
                                     [*model, "feature"], registry=self.registry)
        self.drift_share = Gauge("shipyard_drift_share", "Share of features that drifted.", model,
                                 registry=self.registry)
        self.dataset_drift = Gauge("shipyard_dataset_drift", "1 when the share of drifted features "
                                   "reaches the dataset drift threshold.", model, registry=self.registry)
        self.window_rows = Gauge("shipyard_drift_window_rows", "Predictions in the compared window.", model,
                                 registry=self.registry)
        self.last_success = Gauge("shipyard_drift_last_success_timestamp_seconds",
                                  "When the drift job last succeeded (unix time).", model, registry=self.registry)
        self.runs = Counter("shipyard_drift_runs", "Drift job runs by outcome.", [*model, "status"],
                            registry=self.registry)

    def record(self, result: DriftResult) -> None:
        labels = {"model": result.model_name, "version": str(result.model_version)}
        for feature in result.features:
            self.feature_score.labels(**labels, feature=feature.feature).set(feature.score)
            self.feature_drifted.labels(**labels, feature=feature.feature).set(int(feature.drifted))
        self.drift_share.labels(**labels).set(result.drift_share)
        self.dataset_drift.labels(**labels).set(int(result.dataset_drift))
        self.window_rows.labels(**labels).set(result.window_rows)
        self.last_success.labels(**labels).set(result.finished_at)
        self.runs.labels(**labels, status="success").inc()

    def record_failure(self, model_name: str, version: str) -> None:
        self.runs.labels(model=model_name, version=version, status="error").inc()

    def write(self, path: Path) -> None:
        write_to_textfile(str(path), self.registry)


def serve(settings: Settings, use_case: UseCase, port: int, interval_seconds: float, window_rows: int | None,
          stop: threading.Event | None = None) -> None:
    """Run the drift job every ``interval_seconds`` and serve the results on ``port`` at /metrics.

    A failed run keeps the last good values and counts an error, so staleness alerts can fire.
    """
    from shipyard import registry

    metrics = DriftMetrics()
    server, thread = start_http_server(port, registry=metrics.registry)
    stop = stop or threading.Event()
    try:
        while not stop.is_set():
            try:
                metrics.record(run_drift_job(settings, use_case, window_rows))
            except Exception as exc:  # keep serving the last good values
                log.warning("drift job failed: %s", exc)
                try:
                    version = str(registry.resolve_version(settings, use_case.model_name))
                except LookupError:
                    version = "none"
                metrics.record_failure(use_case.model_name, version)
            stop.wait(interval_seconds)
    finally:
        server.shutdown()
        thread.join()
