"""Where the fast path puts itself among the middlewares KServe adds after it (FastPath._arrange).

KServe's REST server adds its timing middleware to the app after Shipyard's (``RESTServer`` does it in
``create_application``, inside ``ModelServer.start``); these tests add it the same way to a plain
FastAPI app, run the app's start-up, and watch for KServe's timing line on logger ``kserve.trace``.
They also pin the Starlette attributes the arrangement edits (``user_middleware``, ``middleware_stack``).
"""

import asyncio
import logging
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI
from kserve.protocol.rest.server import PrintTimings
from timing_asgi import TimingMiddleware
from timing_asgi.integrations import StarletteScopeToName

from components.serving.fast_path import FastPath

pytestmark = pytest.mark.unit


def app_as_kserve_builds_it(**options) -> FastAPI:
    app = FastAPI()

    @app.get("/v2/health/live")
    def live() -> dict:
        return {"live": True}

    # A predictor that is never asked to score: the requests here are KServe's routes.
    app.add_middleware(FastPath, predictor=SimpleNamespace(name="fraud", ready=True, scoring=None), **options)
    app.add_middleware(TimingMiddleware, client=PrintTimings(),  # as KServe's RESTServer adds it
                       metric_namer=StarletteScopeToName(prefix="kserve.io", starlette_app=app))
    return app


async def started_then_asked(app: FastAPI) -> httpx.Response:
    """The app's lifespan start-up (where the fast path arranges the middlewares), one request, shut-down."""
    to_app, from_app = asyncio.Queue(), asyncio.Queue()
    await to_app.put({"type": "lifespan.startup"})
    lifespan = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                                       to_app.get, from_app.put))
    assert (await from_app.get())["type"] == "lifespan.startup.complete"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        answer = await client.get("/v2/health/live")
    await to_app.put({"type": "lifespan.shutdown"})
    await lifespan
    return answer


def timing_lines(app: FastAPI, caplog) -> list[str]:
    with caplog.at_level(logging.INFO, logger="kserve.trace"):
        assert asyncio.run(started_then_asked(app)).json() == {"live": True}
    return [r.getMessage() for r in caplog.records if r.name == "kserve.trace"]


def test_untimed_drops_kserves_timing_middleware(caplog):
    app = app_as_kserve_builds_it(first=True, untimed=True)
    assert timing_lines(app, caplog) == []
    assert [m.cls for m in app.user_middleware] == [FastPath]


def test_without_untimed_kserves_timing_stays_behind_the_fast_path(caplog):
    app = app_as_kserve_builds_it(first=True)
    assert any(line.startswith("kserve.io.") for line in timing_lines(app, caplog))
    assert [m.cls for m in app.user_middleware] == [FastPath, TimingMiddleware]


def test_with_an_access_log_format_the_order_is_kserves(caplog):
    app = app_as_kserve_builds_it()
    assert any(line.startswith("kserve.io.") for line in timing_lines(app, caplog))
    assert [m.cls for m in app.user_middleware] == [TimingMiddleware, FastPath]
