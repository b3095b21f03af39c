"""Replay generated events against a running predictor, one request per event, like card terminals."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from shipyard.usecase import UseCase


@dataclass(frozen=True)
class ReplayStats:
    requests: int
    ok: int
    errors: int
    p50_ms: float
    p99_ms: float
    seconds: float


def replay(base_url: str, events: pd.DataFrame, use_case: UseCase,
           on_progress: Callable[[int], None] | None = None) -> ReplayStats:
    url = f"{base_url}/v1/models/{use_case.model_name}:predict"
    fields = [f.name for f in use_case.request_fields]
    latencies, errors = [], 0
    started = time.perf_counter()
    # The event's id travels as the request id, so late labels can be joined to the prediction log.
    ids = events[use_case.event_id].astype(str).tolist() if use_case.event_id in events else None
    with httpx.Client(timeout=10.0) as client:
        for i, instance in enumerate(events[fields].to_dict("records")):
            sent = time.perf_counter()
            response = client.post(url, json={"instances": [instance]},
                                   headers={"x-request-id": ids[i]} if ids else None)
            latencies.append(time.perf_counter() - sent)
            errors += response.status_code != 200
            if on_progress:
                on_progress(i + 1)
    elapsed = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return ReplayStats(len(ms), len(ms) - errors, errors, float(np.percentile(ms, 50)) if len(ms) else 0.0,
                       float(np.percentile(ms, 99)) if len(ms) else 0.0, elapsed)


def wait_until_logged(log_dir: Path, answered: int, since: datetime | None = None) -> int:
    """Predictors write their log in batches (every FLUSH_SECONDS or FLUSH_ROWS records), as in production:
    the answered requests logged (since ``since``) once ``answered`` are written, or what is there after
    the wait (the drift job then says what is missing)."""
    from components.serving.prediction_log import FLUSH_SECONDS
    from monitoring.window import answered_count

    deadline = time.monotonic() + FLUSH_SECONDS + 30
    while (logged := answered_count(log_dir, since)) < answered and time.monotonic() < deadline:
        time.sleep(0.5)
    return logged
