"""KServe's model repository extension for the one model a Shipyard predictor serves.

KServe's own ``ModelRepository.load`` does nothing: after ``POST /v2/repository/models/fraud/unload``
a ``.../load`` answered 503 and the model stayed gone until the pod restarted, while
``/v2/health/ready`` kept saying true (KServe's server is ready when every registered model is, and
none was left). Here ``load`` loads the predictor again, resolving its version as at start-up (the
champion, or the pinned ``SHIPYARD_MODEL_VERSION``): unload then load is a reload. While the model is
not loaded the fast path answers readiness with 503 (fast_path.py), so a readiness probe takes the
pod out of traffic. ``kserve.ModelServer`` takes the repository as its public ``registered_models``.

With several workers each has its own repository: a load or unload reaches the worker that takes
the request, as with KServe's own.
"""

from __future__ import annotations

import asyncio

from kserve.errors import ModelNotFound
from kserve.model_repository import ModelRepository


class SingleModelRepository(ModelRepository):
    def __init__(self, predictor):
        super().__init__()
        self.predictor = predictor
        self.loading: asyncio.Lock | None = None  # made in the server's event loop, on the first load

    async def load(self, name: str) -> bool:
        if name != self.predictor.name:
            raise ModelNotFound(name)
        self.loading = self.loading or asyncio.Lock()
        async with self.loading:  # a second load waits for the first instead of loading twice
            if not self.predictor.ready:
                await asyncio.to_thread(self.predictor.load)  # MLflow download, ONNX check: off the loop
                self.update(self.predictor)
        return self.predictor.ready

    def __getstate__(self) -> dict:  # workers get the repository pickled; a lock does not pickle
        return {**self.__dict__, "loading": None}
