"""Where a model came from: the data snapshot it was trained on and the code that trained it."""

import hashlib
import os
import subprocess
from pathlib import Path


class SnapshotMismatchError(ValueError):
    """The data changed after the run's snapshot was taken: caching or lineage would lie."""


def data_snapshot(*paths: str | Path) -> str:
    """A content hash of the files a run reads; the same bytes always give the same snapshot id."""
    digest = hashlib.sha256()
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"cannot snapshot {path}: it does not exist")
        digest.update(path.name.encode())
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return "sha256:" + digest.hexdigest()


def verify_snapshot(expected: str, *paths: str | Path) -> str:
    """The current snapshot of ``paths``; refuse to go on when ``expected`` is given and differs.

    A step whose inputs can change between runs takes the snapshot as a parameter, so KFP's cache key
    changes with the data and a cached result is never reused for different data.
    """
    actual = data_snapshot(*paths)
    if expected and expected != actual:
        raise SnapshotMismatchError(f"data changed since the run's snapshot {expected}: now {actual}; "
                                    "start a new run so it takes a fresh snapshot")
    return actual


WINDOW_KEYS = ("as_of", "training_window", "evaluation_window", "data_snapshot")


def window_tags(metadata: dict) -> dict[str, str]:
    """Lineage tags of a training set: its windows and the content hash of the data they read."""
    return {f"shipyard.{key}": str(metadata[key]) for key in WINDOW_KEYS}


def git_commit(default: str = "unknown") -> str:
    """The code version: SHIPYARD_GIT_COMMIT (set in the image at build time), else the checkout's HEAD."""
    if os.environ.get("SHIPYARD_GIT_COMMIT"):
        return os.environ["SHIPYARD_GIT_COMMIT"]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                              capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return default
    return head.stdout.strip() or default
