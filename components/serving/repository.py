"""KServe's model repository extension for the one model a Shipyard predictor serves.

KServe's own ``ModelRepository.load`` does nothing: after ``POST /v2/repository/models/fraud/unload``
a ``.../load`` answered 503 and the model stayed gone until the pod restarted, while
``/v2/health/ready`` kept saying true (KServe's server is ready when every registered model is, and
none was left). Here ``load`` loads the predictor again, resolving its version as at start-up (the
champion, or the pinned ``SHIPYARD_MODEL_VERSION``): unload then load is a reload. While the model is
not loaded the fast path answers readiness with 503 (fast_path.py), so a readiness probe takes the
pod out of traffic. ``kserve.ModelServer`` takes the repository as its public ``registered_models``.

``unload`` stops the predictor and keeps it registered, not ready: KServe's own forgets the model,
after which its readiness answered 404 (REST) and NOT_FOUND (gRPC ModelReady) as for a model this
server never had. Kept, it answers 503 and ``ready: false``.

With several workers each would have its own repository, and a load or unload would reach only the
worker that takes the request: the fast path refuses both with a 409 there (fast_path.py), and gRPC
with FAILED_PRECONDITION (the gRPC server runs in the parent process, with the parent's copy).

Over gRPC, KServe's servicer builds its RepositoryModelLoad/Unload answer from what its extension's
``load``/``unload`` return, and they return nothing: every call answered INTERNAL, whatever happened.
``ShipyardRepositoryExtension`` returns what the servicer reads (REST ignores it), and a failed load is
UNAVAILABLE with its cause (KServe's interceptor reads a ``reason`` its ``ModelNotReady`` lacks).
"""

from __future__ import annotations

import asyncio

from grpc_interceptor.exceptions import FailedPrecondition
from kserve.errors import ModelNotFound, ModelNotReady
from kserve.model_repository import ModelRepository
from kserve.protocol.dataplane import DataPlane
from kserve.protocol.model_repository_extension import ModelRepositoryExtension


def workers_refusal(change: str) -> str:
    """Why a repository ``change`` ("load" or "unload") is refused with several workers (REST 409, gRPC
    FAILED_PRECONDITION)."""
    return (f"model {change} needs a server with one worker: with several, each worker has its own copy of "
            f"the model and this request would reach only one of them; restart the server (roll the pods) to "
            f"load the model again")


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

    def unload(self, name: str) -> None:
        if name != self.predictor.name:
            raise KeyError(f"model with name {name} does not exist")  # KServe's extension: 404 ModelNotFound
        self.predictor.stop()

    def __getstate__(self) -> dict:  # workers get the repository pickled; a lock does not pickle
        return {**self.__dict__, "loading": None}


class ShipyardDataPlane(DataPlane):
    """KServe's data plane with server readiness that follows the model and the drain, and no load on a
    request's path.

    - KServe's ``DataPlane.ready`` answers true whatever the models: gRPC ServerReady said ready while
      the model was unloaded and while the server drained at SIGTERM (REST readiness is the fast path's).
    - KServe's ``DataPlane.get_model`` loads a registered model that is not ready, inside the request, on
      the event loop: a gRPC infer after an unload reloaded the model (seconds in which nothing else was
      answered). Here the predictor answers it, with UNAVAILABLE (REST: 503) while it is not loaded.

    ``ModelServer`` builds its servers from its public ``dataplane`` attribute at ``start``; server.py
    puts this one there."""

    def __init__(self, repository: SingleModelRepository, drain):
        super().__init__(model_registry=repository)
        self.repository, self.drain = repository, drain  # fast_path.Drain: ``draining`` once SIGTERM came

    async def ready(self) -> bool:
        return bool(self.repository.predictor.ready) and not self.drain.draining and await super().ready()

    async def get_model(self, name: str):
        model = self.repository.get_model(name)
        if model is None:
            raise ModelNotFound(name)
        return model


class LoadFailed(ModelNotReady):
    """KServe's ``ModelNotReady`` (REST: 503) with the ``reason`` its gRPC interceptor reads (UNAVAILABLE)."""

    @property
    def reason(self) -> str:
        return str(self)


class ShipyardRepositoryExtension(ModelRepositoryExtension):
    """KServe's repository extension whose ``load``/``unload`` return what KServe's gRPC servicer reads
    (module docstring); with several workers (``changes`` False) both are refused, as over REST."""

    def __init__(self, repository: SingleModelRepository, changes: bool = True):
        super().__init__(model_registry=repository)
        self.changes = changes

    def _refuse_with_workers(self, change: str) -> None:
        if not self.changes:
            raise FailedPrecondition(workers_refusal(change))

    async def load(self, model_name: str) -> dict:
        self._refuse_with_workers("load")
        try:
            await super().load(model_name)
        except ModelNotReady as exc:  # raised while handling the load's own exception, its __context__
            cause = exc.__context__
            detail = f"the load failed: {type(cause).__name__}: {cause}" if cause else None
            raise LoadFailed(model_name, detail) from exc
        return {"name": model_name, "load": True}

    async def unload(self, model_name: str) -> dict:
        self._refuse_with_workers("unload")
        await super().unload(model_name)
        return {"name": model_name, "unload": True}
