"""Freshness of the online store after a materialization run, for Prometheus.

The materializer is a short-lived job (a CronJob), so nothing can scrape it: it writes the metrics
in Prometheus text format to a file and, when SHIPYARD_PUSHGATEWAY_URL is set, pushes them to the
Pushgateway. Two gauges per feature view:

- ``shipyard_feature_newest_event_timestamp_seconds``: event time of the newest feature row loaded;
  a staleness alert is ``time() - shipyard_feature_newest_event_timestamp_seconds > threshold``,
  which keeps growing when the job stops running (a pushed age would freeze at its last value).
- ``shipyard_feature_freshness_seconds``: that row's age when the job finished.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway, write_to_textfile

from shipyard.features import ViewMaterialization

JOB = "shipyard-feature-materializer"


def freshness_registry(done: list[ViewMaterialization], now: datetime | None = None) -> CollectorRegistry:
    now = now or datetime.now(UTC)
    registry = CollectorRegistry()
    newest = Gauge("shipyard_feature_newest_event_timestamp_seconds",
                   "Event time of the newest feature row in the online store.", ["feature_view"], registry=registry)
    age = Gauge("shipyard_feature_freshness_seconds",
                "Age of the newest feature row in the online store when materialization finished.",
                ["feature_view"], registry=registry)
    for view in done:
        if view.newest_event is not None:
            newest.labels(view.view).set(view.newest_event.timestamp())
            age.labels(view.view).set(max(0.0, (now - view.newest_event).total_seconds()))
    return registry


def export(done: list[ViewMaterialization], metrics_file: Path, pushgateway_url: str | None) -> None:
    registry = freshness_registry(done)
    metrics_file.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(metrics_file), registry)
    if pushgateway_url:
        push_to_gateway(pushgateway_url, job=JOB, registry=registry)
