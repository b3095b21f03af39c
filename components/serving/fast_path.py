"""An ASGI middleware on KServe's FastAPI app: the scoring fast path, versioned routes, the drain.

It is added with ``app.add_middleware`` to the app KServe serves (``kserve.model_server.app``), so
KServe's own ``ModelServer.start`` builds and runs the server with every option it has (TLS, access
log format, workers, grace period). KServe adds its own middlewares after it (timing; access log when
a format is set); at start-up this one moves ahead of them unless an access-log format is set, and
drops KServe's timing middleware when the server turned its log line off (``_arrange``): no request
pays for a line nobody writes.

- ``POST /v1/models/{name}:predict`` and ``POST /v2/models/{name}/infer`` with a JSON body are
  answered here by ``Scoring``: no FastAPI routing and dependency injection, no pydantic decoding;
  requests that arrive together share one feature lookup and one model call (coalescing.py).
  Anything else on those routes (the binary tensor extension's input, an output selection the fast
  path does not implement), and every request when ``fast`` is off, goes on to KServe's own route,
  which calls the same predictor: same validation, prediction log and metrics.
- Every answer on a scoring route is counted here (``shipyard_requests_total`` by status code),
  whichever path answered; an exception that escapes KServe's route too becomes a JSON 500 with the
  request id, never uvicorn's plain-text one. Every error answer on a scoring route, whichever path
  gave it, is recorded in the prediction log with its status (``Scoring.failed``).
- ``/v2/models/{name}/versions/{v}/...`` is the unversioned route when ``v`` is the served version,
  and a JSON 404 for any other version (KServe answers 501 to every versioned route).
- ``GET /metrics`` with several workers (prometheus_client's multiprocess mode, server.py): the sum
  over every worker process, where KServe's handler would give only the worker taking the scrape.
- Drain: on SIGTERM readiness turns 503 at once while scoring goes on for ``drain_seconds``; every
  answer then carries ``Connection: close``, so clients move off kept-alive connections before
  uvicorn's own shutdown closes them.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import time
import zlib

from components.serving.kserve_answers import errors_as_error_key, rewriting, with_versions, without_null_parameters
from components.serving.metrics import multiprocess_exposition
from components.serving.repository import workers_refusal
from components.serving.requests import MAX_BODY_BYTES, new_request_id
from components.serving.scoring import (
    RECORDED_BY_PREDICTOR,
    Answer,
    error_answer,
    error_of,
    internal_error,
    request_id_in,
    version_not_served,
)

logger = logging.getLogger(__name__)
ROUTE_HEADER = (b"x-shipyard-route", b"fast")  # which path answered: tests pin that the fast path serves


async def read_body(receive) -> bytes | None:
    """The request body, cut just past ``MAX_BODY_BYTES`` (the rest is drained, not kept); None when the
    client went away before sending all of it: there is nobody to answer, and half a body is no request."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        if size <= MAX_BODY_BYTES:
            chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    return body[:MAX_BODY_BYTES + 1]


def replay(body: bytes, receive):
    """A ``receive`` that hands ``body`` to the next app once, then waits for the client as before."""
    sent = False

    async def again():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()
    return again


def header(scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


# Content-Encoding of a request body -> zlib's wbits for it: tritonclient's request_compression_algorithm
# (gzip or deflate, as Triton accepts); "identity" is the body as sent.
DECOMPRESSORS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def decompressed(body: bytes, encoding: str) -> bytes | Answer:
    """The body sent with ``Content-Encoding: encoding``, inflated to at most ``MAX_BODY_BYTES`` (a small
    compressed body can inflate to gigabytes), or the error answer it gets."""
    name = encoding.strip().lower()
    if name in ("", "identity"):
        return body
    if name not in DECOMPRESSORS:
        return error_answer(415, f"Content-Encoding {encoding[:40]!r} is not supported; send gzip, deflate or "
                                 "an uncompressed body")
    plain, rest = b"", body
    while True:  # gzip: one member after another, as gzip.decompress reads them
        inflater = zlib.decompressobj(DECOMPRESSORS[name])
        try:
            plain += inflater.decompress(rest, MAX_BODY_BYTES + 1 - len(plain))
        except zlib.error as exc:
            return error_answer(400, f"request body is not valid {name} data: {exc}")
        if len(plain) > MAX_BODY_BYTES:
            return error_answer(413, f"request body is larger than {MAX_BODY_BYTES} bytes once inflated")
        if not inflater.eof:
            return error_answer(400, f"request body is not valid {name} data: it ends before the stream does")
        rest = inflater.unused_data
        if not rest:
            return plain
        if name != "gzip":
            return error_answer(400, f"request body has {len(rest)} bytes after its {name} stream")


class Drain:
    """SIGTERM handling in front of uvicorn's: not ready at once, uvicorn's shutdown ``seconds`` later."""

    def __init__(self, seconds: float):
        self.seconds, self.draining = seconds, False

    def install(self) -> None:
        """Called at lifespan start-up, when uvicorn's own SIGTERM handler is in place to chain to."""
        loop = asyncio.get_running_loop()
        then = signal.getsignal(signal.SIGTERM)
        if not callable(then):
            return

        def on_sigterm(sig, frame) -> None:
            if self.draining:  # a second SIGTERM: stop now
                then(sig, frame)
                return
            self.draining = True
            logger.info("SIGTERM: not ready; still answering for %.1f s, then closing connections", self.seconds)
            loop.call_soon_threadsafe(loop.call_later, self.seconds, then, sig, None)
        signal.signal(signal.SIGTERM, on_sigterm)


class FastPath:
    def __init__(self, app, predictor, fast: bool = True, drain: Drain | None = None, on_startup=None,
                 on_shutdown=None, one_of_workers: bool = False, first: bool = False, untimed: bool = False):
        self.app, self.predictor, self.fast = app, predictor, fast
        # A worker's load, before the server accepts; its stop once requests in flight are answered.
        self.on_startup, self.on_shutdown = on_startup, on_shutdown
        self.first = first  # ahead of the middlewares KServe adds after this one (see ``_arrange``)
        self.untimed = untimed  # without KServe's timing middleware: its log line is off (``_arrange``)
        self.drain = drain if drain is not None else Drain(0.0)  # shared with a rebuilt copy: ``_arrange``
        name = re.escape(predictor.name)
        self.routes = {f"/v1/models/{predictor.name}:predict": "v1", f"/v2/models/{predictor.name}/infer": "v2"}
        self.ready_paths = {"/v2/health/ready", f"/v2/models/{predictor.name}/ready",
                            f"/v1/models/{predictor.name}"}
        self.metadata_path = f"/v2/models/{predictor.name}"
        self.explain_path = f"/v1/models/{predictor.name}:explain"
        self.repository_change = re.compile(r"^/v2/repository/models/([^/]+)/(load|unload)$")
        self.versioned = re.compile(rf"^/v2/models/{name}/versions/([^/]*)(/ready|/infer)?$")
        # One of several worker processes: /metrics is the sum over them, and a repository load or unload
        # is refused (it would reach one worker only).
        self.one_of_workers = one_of_workers

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._on_startup(receive, scope.get("app")), send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path == "/v2/" or (path.endswith("/") and path[:-1] in self.routes):
            # "/v2/": the OIP spec's server metadata path (KServe's route is "/v2"); a scoring route with a
            # trailing slash is the route (Starlette would redirect it with an uncounted 307)
            path = path[:-1]
            scope = {**scope, "path": path, "raw_path": path.encode()}
        if self.one_of_workers and path == "/metrics" and scope["method"] == "GET":
            body, content_type = multiprocess_exposition(header(scope, b"accept"))
            await self._answer(send, Answer(200, body, content_type.encode()))
            return
        if path.startswith("/v2/models/") and "/versions/" in path:
            matched = self.versioned.match(path)
            if matched is None:
                await self._answer(send, error_answer(404, f"no route {path}"))
                return
            if matched.group(1) != self._served_version():
                answer = error_answer(404, version_not_served(self.predictor.name, matched.group(1),
                                                              self._served_version()))
                if matched.group(2) == "/infer" and scope["method"] == "POST":  # counted and logged
                    await self._score(scope, receive, send, "v2", refusal=answer)
                else:
                    await self._answer(send, answer)
                return
            path = f"/v2/models/{self.predictor.name}{matched.group(2) or ''}"
            scope = {**scope, "path": path, "raw_path": path.encode()}
        if self.drain.draining and path in self.ready_paths:
            await self._answer(send, error_answer(503, "shutting down: not ready for new traffic"))
            return
        if path in self.ready_paths and not self.predictor.ready:  # unloaded (repository.py)
            await self._answer(send, error_answer(503, f"model {self.predictor.name!r} is not loaded"))
            return
        if path.startswith("/v2/repository/") and (repository := self.repository_change.match(path)):
            if repository.group(1) != self.predictor.name:  # KServe's extension: a 503 "not ready" for a load
                await self._answer(send, error_answer(404, f"model {repository.group(1)!r} is not served here; "
                                                           f"this server serves {self.predictor.name!r}"))
                return
            if self.one_of_workers:
                await self._answer(send, error_answer(409, workers_refusal(repository.group(2))))
                return
        if path == self.metadata_path and scope["method"] == "GET":
            rule = with_versions(self._served_version())
            await self.app(scope, receive, rewriting(send, rule, self.drain.draining))
            return
        if path in self.routes and scope["method"] != "POST":  # KServe: a 404 for the v1 route
            if (scoring := self.predictor.scoring) is not None:  # every answer on a scoring route is counted
                scoring.metrics.request(self.routes[path], 405).inc()
            await self._answer(send, error_answer(405, f"{path} takes POST, not {scope['method']}"),
                               [(b"allow", b"POST")])
            return
        if path == self.explain_path:  # KServe: 501 "Could not find explainer_host"
            await self._answer(send, error_answer(404, f"model {self.predictor.name!r} has no explainer"))
            return
        protocol = self.routes.get(path) if scope["method"] == "POST" else None
        if protocol is None:
            await self.app(scope, receive, rewriting(send, errors_as_error_key, self.drain.draining, ok_when=None))
            return
        await self._score(scope, receive, send, protocol)

    def _on_startup(self, receive, app):
        async def receive_and_install():
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.drain.install()
                if app is not None:
                    self._arrange(app)
                if self.on_startup is not None:
                    self.on_startup()
            elif message["type"] == "lifespan.shutdown" and self.on_shutdown is not None:
                self.on_shutdown()
            return message
        return receive_and_install

    def _arrange(self, app) -> None:
        """Called at lifespan start-up, before the server accepts a request. ``first``: make this the
        outermost of the app's middlewares, ahead of those KServe adds after it, so a fast-path answer pays
        for none of them. ``untimed``: drop KServe's ``TimingMiddleware``, whose only output is the
        ``kserve.trace`` log line the server turns off (server.py), so requests KServe answers do not pay
        for timing nobody reads (about a tenth of its route's CPU per request in a profile at 8 connections).

        Starlette has no public way to change middlewares once added: this edits its ``user_middleware``
        list and drops the built stack (``middleware_stack``), which Starlette rebuilds on the next
        request with a new instance of this class sharing this one's ``Drain`` (server.py passes one).
        Both attributes are public names but not documented API; tests/serving/test_routes.py pins the
        result from outside and tests/serving/test_middleware_order.py the edit, and they fail if
        Starlette changes them."""
        from timing_asgi import TimingMiddleware  # KServe's timing middleware (kserve.protocol.rest.server)

        middlewares = [m for m in app.user_middleware if not (self.untimed and m.cls is TimingMiddleware)]
        entry = next((m for m in middlewares if m.cls is FastPath), None)
        if self.first and entry is not None:
            middlewares.remove(entry)
            middlewares.insert(0, entry)
        if middlewares != app.user_middleware:
            app.user_middleware[:] = middlewares
            app.middleware_stack = None

    def _served_version(self) -> str:
        return str(self.predictor.version)

    async def _score(self, scope, receive, send, protocol: str, refusal: Answer | None = None) -> None:
        """A scoring request's answer, counted and (when an error) recorded in the prediction log; ``refusal``:
        the error its route alone decided (another version), given whatever the body."""
        started = time.perf_counter()
        request_id = header(scope, b"x-request-id")
        body = await read_body(receive)
        if body is None:  # not scored, counted or logged
            logger.debug("client left before sending the whole body of a %s request", protocol)
            return
        scoring = self.predictor.scoring
        metrics = scoring.metrics if scoring is not None else None
        encoding = header(scope, b"content-encoding")
        refused: Answer | None = None
        if encoding is not None and len(body) <= MAX_BODY_BYTES:
            inflated = decompressed(body, encoding)
            if isinstance(inflated, Answer):
                refused = inflated
            else:  # KServe's route gets the plain body
                body = inflated
                scope = {**scope, "headers": [*[(k, v) for k, v in scope["headers"]
                                                if k not in (b"content-encoding", b"content-length")],
                                              (b"content-length", str(len(body)).encode())]}
        answer: Answer | None
        if refusal is not None:
            json_length = header(scope, b"inference-header-content-length")
            answer = refusal if scoring is None else scoring.failed_answer(protocol, request_id, refusal, body,
                                                                           json_length=json_length)
        elif not self.predictor.ready or scoring is None:
            answer = error_answer(503, f"model {self.predictor.name!r} is not loaded")
            if scoring is not None:  # unloading: the log may take it still (before load there is none)
                scoring.failed_answer(protocol, request_id, answer)
        elif len(body) > MAX_BODY_BYTES:
            answer = scoring.failed_answer(protocol, request_id, error_answer(
                413, f"request body is larger than {MAX_BODY_BYTES} bytes"))
        elif refused is not None:
            answer = scoring.failed_answer(protocol, request_id, refused)
        elif (json_length := header(scope, b"inference-header-content-length")) is not None:
            # Binary tensor input: KServe's codec decodes it (once its framing is checked), the predictor
            # validates it.
            answer = scoring.check_binary(body, json_length, request_id)
        elif not self.fast:
            answer = scoring.check(protocol, body, request_id)  # KServe's errors would not name the field
        else:
            answer = await scoring.respond(protocol, body, request_id)
        if answer is not None:
            if metrics is not None:
                metrics.request(protocol, answer.status).inc()
                metrics.duration[protocol].observe(time.perf_counter() - started)
            extra = [(b"model-version", scoring.version_text.encode())] if scoring else []
            extra += [ROUTE_HEADER] if self.fast else []
            await self._answer(send, answer, extra)
            return
        if answer is None and header(scope, b"inference-header-content-length") is None:
            # A JSON body without a JSON Content-Type (tritonclient sends none): KServe's v2 route would take
            # it for binary tensor data and refuse it, so say what it is.
            scope = {**scope, "headers": [*[(k, v) for k, v in scope["headers"] if k != b"content-type"],
                                          (b"content-type", b"application/json")]}
        await self._through_kserve(scope, replay(body, receive), send, protocol, request_id, metrics, started,
                                   scoring, body)

    async def _through_kserve(self, scope, receive, send, protocol, request_id, metrics, started,
                              scoring=None, body: bytes = b"") -> None:
        """KServe's own route for this request, its answer counted and, when it is an error, recorded in
        the prediction log (the predictor logs the answered ones); an exception escaping it becomes our 500."""
        answered = False
        given = request_id
        request_id = request_id or new_request_id()
        failure: dict = {}
        recorded: list = []  # the predictor's own record of this failure, with its inputs
        token = RECORDED_BY_PREDICTOR.set(recorded)

        def record_failure(status: int, error: str | None) -> None:
            if scoring is not None and not recorded:  # the id the client knows: header's, else v2 body's "id"
                json_length = header(scope, b"inference-header-content-length")
                scoring.failed(protocol, given or request_id_in(body, json_length) or request_id, status, error)

        async def counted(message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True
                if metrics is not None:
                    metrics.request(protocol, message["status"]).inc()
                    metrics.duration[protocol].observe(time.perf_counter() - started)
                if message["status"] >= 500 and message["status"] != 503:
                    logger.error("KServe's %s route answered %d (request id %s)", protocol, message["status"],
                                 request_id)
                if message["status"] >= 400:
                    failure.update(status=message["status"], body=b"")
            elif message["type"] == "http.response.body" and failure:
                if len(failure["body"]) < 2048:
                    failure["body"] += message.get("body", b"")[:2048]
                if not message.get("more_body", False):
                    record_failure(failure["status"], error_of(failure["body"]))
            await send(message)

        try:
            await self.app(scope, receive, rewriting(counted, without_null_parameters, self.drain.draining,
                                                          ok_when=b"null"))
        except Exception:
            if answered:
                raise  # the answer has started: nothing cleaner is possible than closing the connection
            if metrics is not None:
                metrics.request(protocol, 500).inc()
                metrics.duration[protocol].observe(time.perf_counter() - started)
            answer = internal_error(request_id, f"{protocol} route")
            record_failure(answer.status, error_of(answer.body))
            await self._answer(send, answer)
        finally:
            RECORDED_BY_PREDICTOR.reset(token)

    async def _answer(self, send, answer: Answer, extra: list[tuple[bytes, bytes]] | None = None) -> None:
        headers = [(b"content-type", answer.content_type), (b"content-length", str(len(answer.body)).encode()),
                   *answer.headers, *(extra or [])]
        if self.drain.draining:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})

