"""A KServe ``ModelServer`` whose single REST worker serves through ``FastPath``.

``ModelServer.start`` gives no hook between building KServe's FastAPI app and serving it, so the
single-worker branch is repeated here with two differences: the ASGI app is KServe's app wrapped in
``FastPath``, and uvicorn's per-request access log is off (it costs throughput and the request
metrics already count every answer). Signal handling, graceful drain (uvicorn finishes in-flight
requests on SIGTERM, then KServe unloads the model, which closes the prediction log) stay KServe's.
"""

from __future__ import annotations

import asyncio
import logging

import kserve
from kserve.constants.constants import FASTAPI_APP_IMPORT_STRING
from kserve.protocol.rest.server import RESTServer
from uvicorn.importer import import_from_string

from components.serving.fast_path import FastPath


class FastModelServer(kserve.ModelServer):
    def __init__(self, predictor, **kwargs):
        super().__init__(**kwargs)
        self.predictor = predictor

    def start(self, models) -> None:
        self._register_and_check_atleast_one_model_is_ready(models)
        rest = RESTServer(FASTAPI_APP_IMPORT_STRING, self.dataplane, self.model_repository_extension,
                          self.http_port, workers=1, grace_period=self.grace_period,
                          event_loop=self.event_loop, timeout_keep_alive=self.timeout_keep_alive)
        rest.create_application()  # KServe's routes, exception handlers and middlewares
        predictor = self.predictor
        rest.config.app = FastPath(import_from_string(FASTAPI_APP_IMPORT_STRING), predictor.name,
                                   lambda: predictor.scoring if predictor.ready else None)
        # uvicorn logs each request when the access logger has any handler, own or inherited.
        access = logging.getLogger("uvicorn.access")
        access.handlers, access.propagate = [], False
        self._rest_server = rest
        self.servers.append(rest._server.serve())
        self.setup_event_loop()
        self.register_signal_handler()
        asyncio.run(self._serve())
