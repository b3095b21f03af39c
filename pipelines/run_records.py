"""Idempotency keys of triggered runs: a key starts at most one run, and remembers what it did.

Records are JSON files under a directory (SHIPYARD_HOME/runs/<pipeline>), one per key, guarded by
an exclusive file lock so two webhook deliveries of the same alert cannot both start a run.
"""

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path


class RunRecords:
    def __init__(self, directory: Path):
        self.directory = directory

    def _path(self, key: str) -> Path:
        if not key or not key.strip():
            raise ValueError("idempotency_key must be a non-empty string")
        return self.directory / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".json")

    def get(self, key: str) -> dict | None:
        path = self._path(key)
        return json.loads(path.read_text()) if path.exists() else None

    def save(self, key: str, record: dict) -> None:
        path = self._path(key)
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps({**record, "idempotency_key": key}, indent=2, default=str))
        os.replace(partial, path)  # readers never see half a record

    @contextlib.contextmanager
    def claim(self, key: str) -> Iterator[dict | None]:
        """Hold the key's lock; yields its record if a run was already started with it, else None."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self._path(key).with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # a second delivery waits for the first to finish
            try:
                yield self.get(key)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
