"""`shipyard monitor serve`: the drift job on a schedule, /metrics, the Alertmanager webhook, reports.

Routes: GET /metrics (Prometheus), POST /hooks/alertmanager (starts retraining, see
monitoring/webhook.py), GET /hooks/alertmanager (the retraining ledger as JSON), GET
/reports/<name> (the Evidently HTML report named by shipyard_drift_report_info), GET /-/healthy.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from monitoring.drift import run_drift_job
from monitoring.exporter import DriftMetrics
from monitoring.webhook import RetrainingTrigger, WebhookPayloadError
from monitoring.window import window_start
from shipyard.settings import Settings
from shipyard.usecase import UseCase

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1 << 20
WEBHOOK_PATH = "/hooks/alertmanager"


def make_handler(metrics: DriftMetrics, trigger: RetrainingTrigger, reports_dir: Path):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # Alertmanager and Prometheus call often; stay quiet
            pass

        def _send(self, code: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, code: int, value: object) -> None:
            self._send(code, json.dumps(value).encode())

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, generate_latest(metrics.registry), CONTENT_TYPE_LATEST)
            elif path == WEBHOOK_PATH:
                self._json(200, {"runs": trigger.runs()})
            elif path == "/-/healthy":
                self._json(200, {"status": "ok"})
            elif path.startswith("/reports/") and (report := _report(reports_dir, path)) is not None:
                self._send(200, report.read_bytes(), "text/html; charset=utf-8")
            else:
                self._json(404, {"error": f"no such resource: {path}"})

        def do_POST(self) -> None:
            if self.path.split("?", 1)[0] != WEBHOOK_PATH:
                self._json(404, {"error": f"no such resource: {self.path}"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self._json(413, {"error": f"body larger than {MAX_BODY_BYTES} bytes"})
                return
            try:
                payload = json.loads(self.rfile.read(length) or b"null")
                decisions = trigger.handle(payload)
            except json.JSONDecodeError as exc:
                self._json(400, {"error": f"body is not JSON: {exc.msg} at position {exc.pos}"})
                return
            except WebhookPayloadError as exc:
                self._json(400, {"error": str(exc)})
                return
            self._json(202, {"decisions": [d.__dict__ for d in decisions]})

    return Handler


def _report(reports_dir: Path, path: str) -> Path | None:
    name = path.removeprefix("/reports/")
    # Only a plain file name inside the reports directory: no traversal out of it.
    if "/" in name or not name.endswith(".html") or name.startswith("."):
        return None
    report = reports_dir / name
    return report if report.is_file() else None


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
        log.warning("drift job failed: %s", exc)
        try:
            version = str(registry.resolve_version(settings, use_case.model_name))
        except LookupError:
            version = "none"
        metrics.record_failure(use_case.model_name, version)
        return False
    metrics.record(result, time.perf_counter() - started)
    return True


def run_scheduled(settings: Settings, use_case: UseCase, metrics: DriftMetrics, interval_seconds: float,
                  window_rows: int | None, stop: threading.Event, window_minutes: float | None = None) -> None:
    """Run the drift job every ``interval_seconds`` until ``stop`` is set."""
    while not stop.is_set():
        started = time.perf_counter()
        run_once(settings, use_case, metrics, window_rows, window_minutes)
        stop.wait(max(0.0, interval_seconds - (time.perf_counter() - started)))


def serve(settings: Settings, use_case: UseCase, port: int, interval_seconds: float, window_rows: int | None,
          stop: threading.Event | None = None, *, host: str = "127.0.0.1",
          trigger: RetrainingTrigger | None = None, window_minutes: float | None = None) -> None:
    """Serve until ``stop`` is set (or forever)."""
    metrics = DriftMetrics()
    trigger = trigger or RetrainingTrigger(settings.home / "monitor" / "retraining.json",
                                           default_start_run(settings))
    server = ThreadingHTTPServer((host, port), make_handler(metrics, trigger, settings.reports_dir))
    thread = threading.Thread(target=server.serve_forever, name="monitor-http", daemon=True)
    thread.start()
    stop = stop or threading.Event()
    try:
        run_scheduled(settings, use_case, metrics, interval_seconds, window_rows, stop, window_minutes)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        trigger.close()
