"""Read a window of the prediction log in bounded memory: a uniform sample of its newest rows.

The drift job must not cost more as windows grow, so it never loads a whole window. It counts the
lines of the newest hourly files (streaming, no parsing), picks ``sample_rows`` line numbers
uniformly at random among the newest ``last_rows`` lines, and parses only those. Effect-size drift
scores (Wasserstein distance, Jensen-Shannon distance) of a uniform sample of 20,000 rows differ
from the full window's by a few thousandths, far from the 0.1 decision threshold (benchmarks/drift).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

LOG_GLOB = "predictions-*.jsonl"  # hourly files of components.serving.prediction_log, oldest name first
DEFAULT_SAMPLE_ROWS = 20_000


@dataclass(frozen=True)
class WindowSample:
    rows: pd.DataFrame  # the sampled rows, oldest first
    window_rows: int  # lines in the window the sample was drawn from


def window_start(minutes: float | None) -> datetime | None:
    """The start of a time window of the last ``minutes`` (None: no time bound)."""
    return None if minutes is None else datetime.now(UTC) - timedelta(minutes=minutes)


def _count_lines(path: Path) -> int:
    """Complete lines only: a torn tail without its newline is left for the next read."""
    count = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            count += chunk.count(b"\n")
    return count


def _hour_of(path: Path) -> datetime | None:
    try:
        return datetime.strptime(path.stem.removeprefix("predictions-"), "%Y%m%dT%H")
    except ValueError:
        return None


def _window_files(directory: Path, last_rows: int | None, since: datetime | None) -> list[tuple[Path, int]]:
    """The newest files (oldest first) with their line counts, enough to cover the window."""
    chosen: list[tuple[Path, int]] = []
    covered = 0
    for path in sorted(directory.glob(LOG_GLOB), reverse=True):
        hour = _hour_of(path)
        # A file holds one UTC hour: it can hold rows after ``since`` only if its hour ends after it.
        if since is not None and hour is not None and hour.timestamp() + 3600 <= since.timestamp():
            break
        lines = _count_lines(path)
        chosen.append((path, lines))
        covered += lines
        if last_rows is not None and covered >= last_rows:
            break
    return list(reversed(chosen))


def read_columns(directory: Path, columns: list[str], *, last_rows: int | None = None,
                 since: datetime | None = None) -> pd.DataFrame:
    """Only ``columns`` of every row of the window: exact values where a sample is not enough.

    Memory grows by one number per row and column asked for, never by whole records.
    """
    files = _window_files(directory, last_rows, since) if directory.exists() else []
    total = sum(lines for _, lines in files)
    skip = total - (total if last_rows is None else min(last_rows, total))
    values: dict[str, list] = {c: [] for c in [*columns, "timestamp"]}
    line_no = 0
    for path, lines in files:
        with open(path, "rb") as handle:
            for offset, line in enumerate(handle):
                if offset >= lines:
                    break
                if line_no + offset >= skip:
                    record = orjson.loads(line)
                    for column, kept in values.items():
                        kept.append(record.get(column))
        line_no += lines
    frame = pd.DataFrame(values)
    if since is not None and not frame.empty:
        frame = frame[(pd.to_datetime(frame["timestamp"], utc=True) >= pd.Timestamp(since)).to_numpy()]
    return frame.drop(columns=["timestamp"]).reset_index(drop=True)


def read_window(directory: Path, *, last_rows: int | None = None, since: datetime | None = None,
                sample_rows: int = DEFAULT_SAMPLE_ROWS, seed: int = 0) -> WindowSample:
    """A uniform sample of at most ``sample_rows`` of the newest ``last_rows`` predictions.

    ``since`` (timezone-aware) keeps only predictions logged at or after it. Without either bound
    the window is the whole log. The seed makes a given window give the same sample every time.
    """
    if sample_rows < 1:
        raise ValueError("sample_rows must be at least 1")
    files = _window_files(directory, last_rows, since) if directory.exists() else []
    total = sum(lines for _, lines in files)
    window = total if last_rows is None else min(last_rows, total)
    skip = total - window  # oldest lines of the first file that fall outside the window
    picked = np.sort(np.random.default_rng(seed).choice(window, size=min(window, sample_rows), replace=False))
    wanted = iter((picked + skip).tolist())
    records, target, line_no = [], next(wanted, None), 0
    for path, lines in files:
        if target is None:
            break
        if target >= line_no + lines:
            line_no += lines
            continue
        with open(path, "rb") as handle:
            for offset, line in enumerate(handle):
                if offset >= lines:
                    break
                while target is not None and target == line_no + offset:
                    records.append(orjson.loads(line))
                    target = next(wanted, None)
        line_no += lines
    rows = pd.DataFrame(records)
    if since is not None and not rows.empty:
        # Thin the estimate of the window's size in the same proportion as the sample.
        kept = pd.to_datetime(rows["timestamp"], utc=True) >= pd.Timestamp(since)
        window = round(window * float(kept.mean()))
        rows = rows[kept.to_numpy()].reset_index(drop=True)
    return WindowSample(rows, window)
