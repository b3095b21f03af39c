from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shipyard.processes import ServerProcess, free_port, start_predictor
from shipyard.settings import Settings


@dataclass
class RunningPredictor:
    url: str
    prediction_log_dir: Path
    process: ServerProcess


@pytest.fixture(scope="module")
def predictor(trained_home: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPredictor]:
    """`shipyard serve` as a real process on a free port, with a prediction log of its own."""
    log_dir = tmp_path_factory.mktemp("predictions")
    port = free_port()
    env = {"SHIPYARD_HOME": str(trained_home.home), "SHIPYARD_PREDICTION_LOG_DIR": str(log_dir)}
    server = start_predictor(port, log_dir.parent / f"serve-{port}.log", env)
    try:
        yield RunningPredictor(f"http://127.0.0.1:{port}", log_dir, server)
    finally:
        server.stop()
