"""The machine's floor: uvicorn (httptools, asyncio loop, as KServe runs one worker) serving a bare ASGI
app that reads the request and returns a constant prediction. No framework, no model, no store.

    python benchmarks/serving/peer_bare.py --http_port P

Its row says how fast and how steady one core answers HTTP at all here: a latency tail this app shows
(the machine's scheduling, not any server's work) is in every other row too.
"""

from __future__ import annotations

import argparse

import uvicorn

ANSWER = b'{"model_name":"fraud","model_version":"1","predictions":[0.0]}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]


async def app(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body", False):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": ANSWER})


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--http_port", type=int, required=True)
    port = parser.parse_args().http_port
    uvicorn.run(app, host="127.0.0.1", port=port, loop="asyncio", http="httptools", access_log=False,
                log_level="warning")
