"""KServe's repository extension as Shipyard's gRPC server uses it (components/serving/repository.py)."""

from __future__ import annotations

import asyncio

import pytest
from grpc_interceptor.exceptions import FailedPrecondition

from components.serving.predictor import ShipyardPredictor
from components.serving.repository import LoadFailed, ShipyardRepositoryExtension, SingleModelRepository
from shipyard.settings import Settings
from usecases.fraud import USE_CASE

pytestmark = pytest.mark.integration


def extension(tmp_path, monkeypatch, changes: bool = True) -> ShipyardRepositoryExtension:
    """Over a predictor whose home has no registered model: an empty home, as a new pod's."""
    monkeypatch.setenv("SHIPYARD_HOME", str(tmp_path / "home"))
    predictor = ShipyardPredictor(Settings.from_env(), USE_CASE)
    return ShipyardRepositoryExtension(SingleModelRepository(predictor), changes=changes)


def test_a_failed_load_says_why_in_the_reason_kserves_grpc_interceptor_reads(tmp_path, monkeypatch):
    with pytest.raises(LoadFailed) as failed:
        asyncio.run(extension(tmp_path, monkeypatch).load("fraud"))
    assert "the load failed: LookupError: registered model 'fraud' has no alias 'champion'" in failed.value.reason


def test_with_several_workers_load_and_unload_are_refused_before_anything_changes(tmp_path, monkeypatch):
    refusing = extension(tmp_path, monkeypatch, changes=False)
    for change in (refusing.load, refusing.unload):
        with pytest.raises(FailedPrecondition, match="needs a server with one worker"):
            asyncio.run(change("fraud"))
