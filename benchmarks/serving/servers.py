"""How each server of the comparison is started and what one request to it looks like.

Every server gets one worker, pinned to CPU 0 with Shipyard's Redis; the load generator uses CPU 1. Shipyard
looks its customer's features up in Redis; the peers have no feature store, so their requests carry
the full model input (request fields + features): they do less work per request than Shipyard.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

from shipyard_cli.processes import ServerProcess, free_port, http_ok

SERVER_CPU = "0"
ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
# Fair to the sklearn peers: HistGradientBoosting's OpenMP threads make a one-row predict ~10x slower,
# and their frameworks call the model from threads that threadpoolctl's per-thread limit does not reach.
ONE_THREAD = {"OMP_NUM_THREADS": "1"}


@dataclass
class Peer:
    name: str
    path: str  # scoring route
    ready_path: str
    command: Callable[[int], list[str]]
    body: Callable[[dict, list[str]], bytes]
    env: Callable[[int], dict] = lambda port: {}


def pinned(args: list[str]) -> list[str]:
    return ["taskset", "-c", SERVER_CPU, *args]


def shipyard_body(row: dict, columns: list[str]) -> bytes:
    request = {k: row[k] for k in ("customer_id", "amount", "merchant_category", "hour")}
    return orjson.dumps({"instances": [request]})


def kserve_body(row: dict, columns: list[str]) -> bytes:
    return orjson.dumps({"instances": [{c: row[c] for c in columns}]})


def mlserver_body(row: dict, columns: list[str]) -> bytes:
    def tensor(name):
        value = row[name]
        kind = "BYTES" if isinstance(value, str) else ("INT64" if isinstance(value, int) else "FP64")
        return {"name": name, "shape": [1], "datatype": kind, "data": [value]}
    return orjson.dumps({"parameters": {"content_type": "pd"}, "inputs": [tensor(c) for c in columns]})


def mlflow_body(row: dict, columns: list[str]) -> bytes:
    return orjson.dumps({"dataframe_records": [{c: row[c] for c in columns}]})


def peers(skops_path: Path, mlserver_dir: Path, bench_bin: Path, model_uri: str, tracking_uri: str) -> list[Peer]:
    python = sys.executable
    kserve_peer = str(HERE / "peer_kserve.py")
    return [
        Peer("KServe no-op (defaults)", "/v1/models/fraud:predict", "/v2/health/ready",
             lambda port: pinned([python, kserve_peer, "--kind", "noop", "--http_port", str(port)]),
             kserve_body, lambda port: {"PYTHONPATH": str(ROOT)}),
        Peer("KServe + sklearn (custom model)", "/v1/models/fraud:predict", "/v2/health/ready",
             lambda port: pinned([python, kserve_peer, "--kind", "sklearn", "--model", str(skops_path),
                                  "--http_port", str(port)]),
             kserve_body, lambda port: {"PYTHONPATH": str(ROOT), **ONE_THREAD}),
        Peer("MLServer + mlserver-sklearn", "/v2/models/fraud/infer", "/v2/health/ready",
             lambda port: pinned([str(bench_bin / "mlserver"), "start", str(mlserver_dir)]),
             mlserver_body, lambda port: {"MLSERVER_HTTP_PORT": str(port), "MLSERVER_GRPC_PORT": str(free_port()),
                                          "MLSERVER_METRICS_PORT": str(free_port()),
                                          "MLSERVER_PARALLEL_WORKERS": "0", **ONE_THREAD}),
        Peer("mlflow models serve", "/invocations", "/ping",
             lambda port: pinned([str(Path(python).with_name("mlflow")), "models", "serve", "-m", model_uri,
                                  "-p", str(port), "-h", "127.0.0.1", "--env-manager", "local", "-w", "1"]),
             # mlflow starts `uvicorn` from PATH: the project's virtualenv's.
             mlflow_body, lambda port: {"MLFLOW_TRACKING_URI": tracking_uri, **ONE_THREAD,
                                        "PATH": f"{Path(python).parent}:{os.environ.get('PATH', '')}"}),
    ]


def start(command: list[str], port: int, ready_path: str, log: Path, env: dict | None) -> ServerProcess:
    ready = http_ok(f"http://127.0.0.1:{port}{ready_path}")
    return ServerProcess([], log, env=env, program=command).start_until(ready, timeout=180)
