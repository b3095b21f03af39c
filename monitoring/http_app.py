"""The monitor's HTTP side (Starlette): /metrics, the Alertmanager webhook, the drift reports.

Routes: GET /metrics (Prometheus, ``prometheus_client.make_asgi_app``), POST /hooks/alertmanager
(starts retraining, see monitoring/webhook.py), GET /hooks/alertmanager (the retraining ledger as
JSON), GET /reports/<name> (the Evidently HTML report named by shipyard_drift_report_info),
GET /-/healthy.

Both webhook routes require ``Authorization: Bearer <token>`` (Alertmanager's
``http_config.authorization``), compared in constant time. Every refused call, by authentication,
payload or decision, is counted in ``shipyard_webhook_refused_total{reason}`` and logged.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, make_asgi_app
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from monitoring.webhook import REFUSALS, RetrainingTrigger, WebhookPayloadError

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1 << 20
WEBHOOK_PATH = "/hooks/alertmanager"
AUTH_REFUSALS = ("missing_token", "wrong_token", "webhook_disabled")
REFUSAL_REASONS = (*AUTH_REFUSALS, "body_too_large", "bad_payload", *sorted(REFUSALS))


class WebhookRefusals:
    """``shipyard_webhook_refused_total{model, reason}``, every reason exported at 0 from the start."""

    def __init__(self, registry: CollectorRegistry, model: str):
        self.model = model
        self.counter = Counter("shipyard_webhook_refused", "Calls to the retraining webhook refused, by reason "
                               "(authentication, payload, wrong model label, hourly cap).", ["model", "reason"],
                               registry=registry)
        for reason in REFUSAL_REASONS:
            self.counter.labels(model=model, reason=reason)

    def refuse(self, request: Request, reason: str, detail: str, count: int = 1) -> None:
        self.counter.labels(model=self.model, reason=reason).inc(count)
        client = request.client.host if request.client else "unknown"
        log.warning("webhook refused a call from %s: %s (%s)", client, reason, detail)


class _Asgi:
    """A raw ASGI app as a Starlette route endpoint (a plain function would be taken for a request handler)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        await self.app(scope, receive, send)


def _error(code: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=code, headers=headers)


def _authorization_problem(request: Request, token: str | None) -> tuple[str, str] | None:
    """(reason, message) when the request does not carry the webhook's bearer token, else None."""
    if not token:
        return "webhook_disabled", "the webhook is disabled: the monitor has no SHIPYARD_WEBHOOK_TOKEN"
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return "missing_token", "an 'Authorization: Bearer <token>' header is required"
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        return "wrong_token", "the bearer token is not the webhook's token"
    return None


def build_app(registry: CollectorRegistry, trigger: RetrainingTrigger, reports_dir: Path, token: str | None,
              lifespan: Callable[[Starlette], AbstractAsyncContextManager] | None = None) -> Starlette:
    refusals = WebhookRefusals(registry, trigger.model)

    def refused(request: Request, reason: str, code: int, message: str) -> JSONResponse:
        refusals.refuse(request, reason, message)
        # RFC 6750: 401 with a challenge for a missing or wrong token; a disabled webhook is forbidden.
        headers = {"WWW-Authenticate": 'Bearer realm="shipyard-monitor"'} if code == 401 else None
        return _error(code, message, headers)

    def unauthorized(request: Request) -> JSONResponse | None:
        if (problem := _authorization_problem(request, token)) is None:
            return None
        reason, message = problem
        return refused(request, reason, 403 if reason == "webhook_disabled" else 401, message)

    async def ledger(request: Request) -> Response:
        if (answer := unauthorized(request)) is not None:
            return answer
        return JSONResponse({"runs": await run_in_threadpool(trigger.runs)})

    async def webhook(request: Request) -> Response:
        if (answer := unauthorized(request)) is not None:
            return answer
        body = bytearray()
        async for chunk in request.stream():  # bounded whatever Content-Length claims
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return refused(request, "body_too_large", 413, f"body larger than {MAX_BODY_BYTES} bytes")
        try:
            payload = json.loads(bytes(body) or b"null")
            decisions = await run_in_threadpool(trigger.handle, payload)
        except json.JSONDecodeError as exc:
            return refused(request, "bad_payload", 400, f"body is not JSON: {exc.msg} at position {exc.pos}")
        except WebhookPayloadError as exc:
            return refused(request, "bad_payload", 400, str(exc))
        for decision in decisions:
            if decision.action in REFUSALS:
                refusals.refuse(request, decision.action, f"{decision.alert}: {decision.reason}")
        return JSONResponse({"decisions": [d.__dict__ for d in decisions]}, status_code=202)

    async def healthy(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def report(request: Request) -> Response:
        name = request.path_params["name"]
        # Only a plain file name inside the reports directory: no traversal out of it.
        path = reports_dir / name
        if "/" in name or "\\" in name or not name.endswith(".html") or name.startswith(".") or not path.is_file():
            return _error(404, f"no such report: {name}")
        return FileResponse(path, media_type="text/html; charset=utf-8")

    async def not_found(request: Request, exc: Exception) -> Response:
        code = getattr(exc, "status_code", 404)
        return _error(code, f"no such resource: {request.method} {request.url.path}" if code in (404, 405)
                      else str(getattr(exc, "detail", exc)))

    routes = [
        Route("/metrics", _Asgi(make_asgi_app(registry))),
        Route(WEBHOOK_PATH, webhook, methods=["POST"]),
        Route(WEBHOOK_PATH, ledger, methods=["GET"]),
        Route("/-/healthy", healthy, methods=["GET"]),
        Route("/reports/{name:path}", report, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found}, lifespan=lifespan)
