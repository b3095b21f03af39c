"""KServe's answers, made to say what the Open Inference Protocol specification says they should.

Where KServe's own routes answer, the fast-path middleware passes their responses through one of
these rules: FastAPI's errors (``{"detail": ...}``, 404 for an unknown route, 405, 422 for a body that
fails its pydantic model) become ``{"error": "..."}`` (a 422 becomes a 400, like every other bad
request here); a 503 the predictor raised loses the "Server is not ready. " KServe puts before its
message (the fast path answers the same message alone); model metadata lists the served version, which
KServe leaves ``null``; and inference responses drop the ``"parameters": null`` KServe writes where the
spec wants an object or nothing. Only responses a rule wants are buffered; the rest stream through untouched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson

Send = Callable[[dict], Awaitable[None]]
JSON = b"application/json"


def is_json(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(k == b"content-type" and v.split(b";")[0].strip() == JSON for k, v in headers)


def error_text(detail) -> str:
    if isinstance(detail, list):  # pydantic: [{"loc": [...], "msg": ...}, ...]
        # KServe's v2 body is "an InferenceRequest or raw bytes": the raw-bytes alternative's complaint
        # says nothing about the request, so it is left out when the schema's own are there.
        entries = [d for d in detail if isinstance(d, dict)]
        schema = [d for d in entries if list(d.get("loc", []))[:2] != ["body", "bytes"]]
        problems = [f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg', '')}" for d in schema or entries]
        return ("request does not match the Open Inference Protocol schema: "
                + ("; ".join(problems[:5]) or "invalid request"))
    return str(detail)


SERVER_NOT_READY = "Server is not ready. "  # kserve.errors.ServerNotReady's prefix to a detail


def errors_as_error_key(status: int, body: dict) -> tuple[int, dict]:
    if status >= 400 and "detail" in body and "error" not in body:
        return (400 if status == 422 else status), {"error": error_text(body["detail"])}
    if status == 503 and isinstance(error := body.get("error"), str) and error.startswith(SERVER_NOT_READY):
        body["error"] = error[len(SERVER_NOT_READY):]
    return status, body


def without_null_parameters(status: int, body: dict) -> tuple[int, dict]:
    """KServe writes ``"parameters": null`` where the spec has an object or nothing (rewriting's
    ``ok_when=b"null"``: a 200 answer without a null is left as it is)."""
    if status == 200:
        if body.get("parameters", {}) is None:
            del body["parameters"]
        for output in body.get("outputs") or []:
            if isinstance(output, dict) and output.get("parameters", {}) is None:
                del output["parameters"]
    return errors_as_error_key(status, body)


def with_versions(version: str) -> Callable[[int, dict], tuple[int, dict]]:
    def rule(status: int, body: dict) -> tuple[int, dict]:
        if status == 200:
            body["versions"] = [version]
        return errors_as_error_key(status, body)
    return rule


def rewriting(send: Send, rule: Callable[[int, dict], tuple[int, dict]], closing: bool = False,
              ok_when: bytes | None = b"") -> Send:
    """``send`` for the app behind: JSON error answers go through ``rule``, and 200 answers that contain
    ``ok_when`` (``b""``: all of them; None: none, the rule changes only errors), so a rule that leaves
    most answers as they are costs them no decoding; ``closing`` adds Connection: close."""
    start: dict = {}
    chunks: list[bytes] = []

    async def rewritten(message: dict) -> None:
        if message["type"] == "http.response.start":
            headers = [*message.get("headers", []), *([(b"connection", b"close")] if closing else [])]
            message = {**message, "headers": headers}
            status = message["status"]
            if is_json(headers) and ((status == 200 and ok_when is not None) or status >= 400):
                start.update(message)
                return
            await send(message)
            return
        if not start or message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return
        status, body = start["status"], b"".join(chunks)
        try:
            decoded = orjson.loads(body) if status != 200 or ok_when in body else None
            if isinstance(decoded, dict):
                status, decoded = rule(status, decoded)
                body = orjson.dumps(decoded)
        except orjson.JSONDecodeError:
            pass
        headers = [(k, v) for k, v in start["headers"] if k != b"content-length"]
        await send({**start, "status": status, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
    return rewritten
