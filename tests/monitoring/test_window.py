"""Bounded reads of the prediction log: the newest rows, sampled uniformly, torn tails left alone."""

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from monitoring.window import read_window

pytestmark = pytest.mark.unit


def write_hour(directory, hour: str, first: int, rows: int, moment: datetime, torn_tail: bool = False) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    lines = b"".join(orjson.dumps({"i": first + i, "timestamp": moment.isoformat()}) + b"\n" for i in range(rows))
    (directory / f"predictions-{hour}.jsonl").write_bytes(lines + (b'{"i": 99' if torn_tail else b""))


def test_the_newest_rows_across_hourly_files(tmp_path):
    now = datetime(2026, 11, 24, 10, tzinfo=UTC)
    write_hour(tmp_path, "20261124T09", 0, 50, now - timedelta(hours=1))
    write_hour(tmp_path, "20261124T10", 50, 30, now, torn_tail=True)
    window = read_window(tmp_path, last_rows=40, sample_rows=1_000)
    assert window.window_rows == 40
    assert window.rows["i"].tolist() == list(range(40, 80))  # the torn line is not read


def test_a_large_window_is_sampled_uniformly_and_reproducibly(tmp_path):
    now = datetime(2026, 11, 24, 10, tzinfo=UTC)
    write_hour(tmp_path, "20261124T10", 0, 20_000, now)
    window = read_window(tmp_path, last_rows=10_000, sample_rows=2_000, seed=3)
    ids = window.rows["i"]
    assert window.window_rows == 10_000 and len(ids) == 2_000 and ids.is_unique
    assert ids.min() >= 10_000 and ids.is_monotonic_increasing
    assert 14_000 < ids.mean() < 16_000  # uniform over the window, not its head
    assert read_window(tmp_path, last_rows=10_000, sample_rows=2_000, seed=3).rows.equals(window.rows)


def test_a_time_window_keeps_rows_since_its_start(tmp_path):
    now = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)
    write_hour(tmp_path, "20261124T08", 0, 10, now - timedelta(hours=2))
    write_hour(tmp_path, "20261124T10", 10, 10, now)
    window = read_window(tmp_path, since=now - timedelta(minutes=5))
    assert window.rows["i"].tolist() == list(range(10, 20)) and window.window_rows == 10


def test_an_empty_or_absent_log_gives_an_empty_window(tmp_path):
    assert read_window(tmp_path / "absent", last_rows=10).rows.empty
    assert read_window(tmp_path).window_rows == 0


def test_read_columns_gives_every_row_of_the_window_but_only_those_columns(tmp_path):
    from monitoring.window import read_columns

    now = datetime(2026, 11, 24, 10, tzinfo=UTC)
    write_hour(tmp_path, "20261124T09", 0, 50, now - timedelta(hours=1))
    write_hour(tmp_path, "20261124T10", 50, 30, now, torn_tail=True)
    frame = read_columns(tmp_path, ["i"], last_rows=60)
    assert list(frame.columns) == ["i"] and frame["i"].tolist() == list(range(20, 80))
