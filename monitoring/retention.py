"""Retention: prediction-log partitions and drift HTML reports older than a configured age are deleted.

The monitor applies it after every drift run (monitoring/service.py). The log is deleted a whole
hour partition at a time, and only partitions that end before the cut-off: only the folder names
of days are listed (and the hours of the cut-off's own day), never the files of history. The
report the latest drift result names is kept whatever its age, so the monitor's link stays good.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from components.serving.prediction_log import open_location
from monitoring.window import partition_folders, partition_value

REPORT_GLOB = "drift-*.html"


@dataclass(frozen=True)
class RetentionOutcome:
    cutoff: datetime
    partitions: list[str] = field(default_factory=list)  # deleted log partitions (days or hours)
    reports: list[str] = field(default_factory=list)  # deleted report files


def expired_partitions(log_location: str | Path, cutoff: datetime) -> list[str]:
    """Log partitions holding only rows older than ``cutoff``: whole days, then hours of its day."""
    fs, root = open_location(log_location)
    cutoff = cutoff.astimezone(UTC)
    day, hour = f"{cutoff:%Y-%m-%d}", f"{cutoff:%H}"
    expired = []
    for folder in partition_folders(fs, root, "date"):
        if partition_value(folder) < day:
            expired.append(folder)
        elif partition_value(folder) == day:
            expired += [h for h in partition_folders(fs, folder, "hour") if partition_value(h) < hour]
    return expired


def apply_retention(log_location: str | Path, reports_dir: Path, max_age_days: float, *,
                    now: datetime | None = None, keep: Path | str | None = None) -> RetentionOutcome:
    """Delete log partitions and HTML reports older than ``max_age_days`` (``keep`` is never deleted)."""
    if max_age_days <= 0:
        raise ValueError("max_age_days must be above 0")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=max_age_days)
    fs, _ = open_location(log_location)
    partitions = expired_partitions(log_location, cutoff)
    for partition in partitions:
        fs.rm(partition, recursive=True)
    reports = []
    kept = Path(keep).resolve() if keep else None
    for report in sorted(reports_dir.glob(REPORT_GLOB)) if reports_dir.is_dir() else []:
        if report.resolve() != kept and report.stat().st_mtime < cutoff.timestamp():
            report.unlink(missing_ok=True)
            reports.append(str(report))
    return RetentionOutcome(cutoff, partitions, reports)
