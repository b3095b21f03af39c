"""The scoring routes answered in front of KServe's FastAPI app, everything else passed through.

KServe's generic route costs most of a request here: FastAPI dependency injection, its JSON codec
and response model, the v2 pydantic decoding and a timing middleware. ``FastPath`` is a plain ASGI
wrapper that answers ``POST /v1/models/{name}:predict`` and ``POST /v2/models/{name}/infer`` with
the same validation, features and model as the ``kserve.Model``; health, readiness, metadata and
``/metrics`` stay KServe's. The work is synchronous on the event loop on purpose: one worker,
no thread hand-off, and the feature read is bounded by the store timeout.
"""

from __future__ import annotations

from collections.abc import Callable

from components.serving.requests import MAX_BODY_BYTES
from components.serving.scoring import Scoring

NOT_READY = b'{"error": "model is not ready"}'


async def read_body(receive) -> bytes:
    """The request body, cut just past ``MAX_BODY_BYTES`` (the rest is drained, not kept)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        if size <= MAX_BODY_BYTES:
            chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    return body[:MAX_BODY_BYTES + 1]


def header(scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


class FastPath:
    def __init__(self, app, model_name: str, scoring: Callable[[], Scoring | None]):
        self.app, self.scoring = app, scoring
        self.routes = {f"/v1/models/{model_name}:predict": "v1", f"/v2/models/{model_name}/infer": "v2"}

    async def __call__(self, scope, receive, send) -> None:
        protocol = self.routes.get(scope.get("path", "")) if scope["type"] == "http" else None
        if protocol is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        scoring = self.scoring()
        headers = [(b"content-type", b"application/json")]
        if scoring is None:
            status, payload = 503, NOT_READY
        else:
            status, payload = scoring.respond(protocol, body, header(scope, b"x-request-id"))
            headers.append((b"model-version", scoring.version_text.encode()))
        headers.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
