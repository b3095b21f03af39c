"""Append-only prediction log in hourly JSON-lines windows that the drift job reads."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pandas as pd


def window_name(moment: datetime) -> str:
    return f"predictions-{moment:%Y%m%dT%H}.jsonl"


class PredictionLog:
    def __init__(self, directory: Path):
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._file = None
        self._hour = -1

    def append(self, records: list[dict]) -> None:
        """Write whole lines and flush them to the OS before the response goes out."""
        data = b"".join(orjson.dumps(r, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n" for r in records)
        with self._lock:
            hour = int(time.time() // 3600)
            if hour != self._hour:  # formatting the window name every request costs more than the write
                self._hour, name = hour, window_name(datetime.fromtimestamp(hour * 3600, UTC))
                self._close()
                self._file = open(self.directory / name, "ab")  # noqa: SIM115 - kept open across requests
            self._file.write(data)
            self._file.flush()

    def _close(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

    def close(self) -> None:
        with self._lock:
            self._close()
            self._hour = -1


def read_prediction_log(directory: Path, last_rows: int | None = None) -> pd.DataFrame:
    """The newest ``last_rows`` records (all when None), oldest first."""
    files = sorted(directory.glob("predictions-*.jsonl"))
    frames = []
    remaining = last_rows
    for path in reversed(files):
        # A line is complete only once its newline is written; a torn tail is left for the next read.
        lines = path.read_bytes().split(b"\n")[:-1]
        if remaining is not None:
            lines = lines[-remaining:]
            remaining -= len(lines)
        frames.append(pd.DataFrame([orjson.loads(line) for line in lines if line.strip()]))
        if remaining is not None and remaining <= 0:
            break
    if not frames:
        return pd.DataFrame()
    return pd.concat(list(reversed(frames)), ignore_index=True)
