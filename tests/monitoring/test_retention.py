"""Retention: old prediction-log partitions and drift reports are deleted, recent ones and the current report kept."""

import os
from datetime import UTC, datetime, timedelta

import pytest

from components.serving.prediction_log import PredictionLog, read_prediction_log
from monitoring.retention import apply_retention
from shipyard.settings import Settings, SettingsError

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)


def log_at(location, *moments: datetime) -> None:
    log = PredictionLog(location, replica="r0")
    log.append([{"request_id": m.isoformat(), "timestamp": m.isoformat(), "score": 0.1} for m in moments])
    log.close()


def report(directory, name: str, age: timedelta):
    path = directory / name
    path.write_text("<html></html>")
    moment = (NOW - age).timestamp()
    os.utime(path, (moment, moment))
    return path


def test_partitions_and_reports_older_than_the_age_are_deleted(tmp_path):
    log, reports = tmp_path / "log", tmp_path / "reports"
    reports.mkdir()
    old, boundary, kept = NOW - timedelta(days=40), NOW - timedelta(days=30, minutes=45), NOW - timedelta(days=29)
    log_at(log, old, boundary, NOW - timedelta(days=30) + timedelta(minutes=10), kept, NOW)
    stale = report(reports, "drift-fraud-v1-20261001T000000.html", timedelta(days=31))
    current = report(reports, "drift-fraud-v1-20261002T000000.html", timedelta(days=31))
    fresh = report(reports, "drift-fraud-v1-20261123T000000.html", timedelta(days=1))
    other = report(reports, "notes.html", timedelta(days=90))
    outcome = apply_retention(log, reports, 30, now=NOW, keep=current)
    remaining = read_prediction_log(log)["timestamp"].tolist()
    # Whole hours before the cut-off go; the cut-off's own hour (10:00) is kept whole.
    assert [t.to_pydatetime() for t in remaining] == [NOW - timedelta(days=30) + timedelta(minutes=10), kept, NOW]
    assert len(outcome.partitions) == 2  # the day of the 40-day-old row, and the 09:00 hour 30 days ago
    assert not stale.exists() and current.exists() and fresh.exists() and other.exists()
    assert outcome.reports == [str(stale)]
    assert apply_retention(log, reports, 30, now=NOW, keep=current).partitions == []  # nothing left to do


def test_an_absent_log_or_report_folder_is_not_an_error(tmp_path):
    outcome = apply_retention(tmp_path / "no-log", tmp_path / "no-reports", 7, now=NOW)
    assert outcome.partitions == [] and outcome.reports == []


def test_the_age_comes_from_the_environment_and_must_be_whole_days(tmp_path):
    assert Settings.from_env({"SHIPYARD_HOME": str(tmp_path)}).retention_days == 30
    assert Settings.from_env({"SHIPYARD_HOME": str(tmp_path), "SHIPYARD_RETENTION_DAYS": "7"}).retention_days == 7
    for bad in ("0", "-3", "a week", "1.5"):
        with pytest.raises(SettingsError, match="SHIPYARD_RETENTION_DAYS"):
            Settings.from_env({"SHIPYARD_HOME": str(tmp_path), "SHIPYARD_RETENTION_DAYS": bad})
