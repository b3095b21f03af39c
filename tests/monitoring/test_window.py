"""Window reads of the prediction log: by time range and newest rows, sampled, and without history."""

from datetime import UTC, datetime, timedelta

import pytest

from components.serving.prediction_log import PredictionLog
from monitoring.window import answered, iter_window, read_window, window_partitions

pytestmark = pytest.mark.unit


def write_rows(location, first: int, rows: int, start: datetime, step: timedelta = timedelta(seconds=1),
               replica: str = "r0") -> None:
    """``rows`` records numbered from ``first``, one ``step`` apart from ``start``, as one batch."""
    log = PredictionLog(location, replica=replica)
    log.append([{"i": first + k, "timestamp": (start + k * step).isoformat(), "score": 0.1, "model_version": 1}
                for k in range(rows)])
    log.close()


def test_the_newest_rows_across_hours(tmp_path):
    now = datetime(2026, 11, 24, 10, tzinfo=UTC)
    write_rows(tmp_path, 0, 50, now - timedelta(hours=1))
    write_rows(tmp_path, 50, 30, now)
    window = read_window(tmp_path, last_rows=40, sample_rows=1_000)
    assert window.window_rows == 40
    assert window.rows["i"].tolist() == list(range(40, 80))


def test_a_large_window_is_sampled_uniformly_and_reproducibly(tmp_path):
    now = datetime(2026, 11, 24, 10, tzinfo=UTC)
    for part in range(4):  # several files, as batches of one writer
        write_rows(tmp_path, part * 5_000, 5_000, now + timedelta(minutes=10 * part), timedelta(milliseconds=1))
    window = read_window(tmp_path, last_rows=10_000, sample_rows=2_000, seed=3)
    ids = window.rows["i"]
    assert window.window_rows == 10_000 and len(ids) == 2_000 and ids.is_unique
    assert ids.min() >= 10_000 and ids.is_monotonic_increasing
    assert 14_000 < ids.mean() < 16_000  # uniform over the window, not its head
    assert read_window(tmp_path, last_rows=10_000, sample_rows=2_000, seed=3).rows.equals(window.rows)


def test_a_time_window_keeps_rows_since_its_start(tmp_path):
    now = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)
    write_rows(tmp_path, 0, 10, now - timedelta(hours=2))
    write_rows(tmp_path, 10, 10, now - timedelta(minutes=10), timedelta(minutes=1))  # one file across the start
    window = read_window(tmp_path, since=now - timedelta(minutes=5))
    assert window.rows["i"].tolist() == list(range(15, 20)) and window.window_rows == 5


def test_an_empty_or_absent_log_gives_an_empty_window(tmp_path):
    assert read_window(tmp_path / "absent", last_rows=10).rows.empty
    assert read_window(tmp_path).window_rows == 0


def test_iter_window_streams_every_row_of_the_window_but_only_those_columns(tmp_path):
    now = datetime(2026, 11, 24, 10, tzinfo=UTC)
    write_rows(tmp_path, 0, 50, now - timedelta(hours=1))
    write_rows(tmp_path, 50, 30, now)
    chunks = list(iter_window(tmp_path, ["i"], last_rows=60))
    assert len(chunks) == 2 and all(list(c.columns) == ["i"] for c in chunks)
    assert [i for c in chunks for i in c["i"]] == list(range(20, 80))


def test_a_one_hour_window_of_a_month_of_history_reads_only_that_hour(tmp_path):
    now = datetime(2026, 11, 24, 10, 59, tzinfo=UTC)
    hours = 30 * 24
    replicas = [PredictionLog(tmp_path, replica=name, flush_seconds=3600) for name in ("r0", "r1")]
    for back in range(hours, 0, -1):  # 30 days of history, 20 rows an hour, from two replicas
        start = now.replace(minute=0) - timedelta(hours=back)
        for number, log in enumerate(replicas):
            log.append([{"i": back * 100 + 50 * number + k, "timestamp": (start + k * timedelta(minutes=5)).isoformat(),
                         "score": 0.1} for k in range(10)])
            log.flush()
    for log in replicas:
        log.close()
    write_rows(tmp_path, 0, 30, now - timedelta(minutes=58), timedelta(minutes=1), replica="r0")  # this hour
    window = read_window(tmp_path, since=now - timedelta(minutes=59), sample_rows=1_000)
    assert window.window_rows == 30 and sorted(window.rows["i"]) == list(range(30))
    stats = window.stats
    assert stats.listings == 2  # the root's days, then that day's hours: no other day is listed
    assert stats.partitions == 1 and stats.files == 1 and stats.rows == 30  # decoded: this hour's rows only
    assert all("date=2026-11-24/hour=10/" in path for path in stats.paths)
    assert len(window_partitions(tmp_path, None)) == hours + 1  # the history is there, unread
    # The same window as the newest rows reads only the newest files too.
    newest = read_window(tmp_path, last_rows=30, sample_rows=1_000)
    assert sorted(newest.rows["i"]) == list(range(30)) and newest.stats.rows == 30
    assert newest.stats.listings == 2 and newest.stats.partitions == 1


def test_a_window_in_many_files_is_sampled_from_a_few_of_them_with_equal_chances():
    import numpy as np

    from monitoring.window import _sample_positions

    sizes = [40, 120, 10, 80, 250, 60, 30, 90, 200, 120] * 3  # 3,000 rows in 30 files of unequal size
    hits = np.zeros(sum(sizes))
    edges = np.cumsum([0, *sizes])
    for seed in range(3_000):
        positions = _sample_positions(sizes, 300, 6, np.random.default_rng(seed))
        decoded = sum(size for size, p in zip(sizes, positions, strict=True) if len(p))
        assert sum(len(p) for p in positions) == 300 and decoded <= 6 * (50 + max(sizes)) < sum(sizes)
        for lo, mine in zip(edges, positions, strict=False):
            hits[lo + mine] += 1
    chance = hits / 3_000  # every row's share of samples it was in: 300 / 3,000 = 0.1 for all
    per_file = [chance[lo:hi].mean() for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    assert np.allclose(per_file, 0.1, atol=0.01), per_file


def test_the_sample_of_a_window_in_many_files_decodes_only_a_few(tmp_path):
    now = datetime(2026, 11, 24, 10, tzinfo=UTC)
    log = PredictionLog(tmp_path, replica="r0", flush_seconds=3600)
    for part in range(40):
        log.append([{"i": part * 100 + k, "timestamp": (now + timedelta(seconds=part * 100 + k)).isoformat()}
                    for k in range(100)])
        log.flush()
    log.close()
    window = read_window(tmp_path, since=now, sample_rows=500, sample_files=5)
    assert window.window_rows == 4_000 and len(window.rows) == 500 and window.rows["i"].is_unique
    assert window.stats.files == 5 and window.stats.rows == 500  # 5 files of 100 rows decoded, not 40
    assert window.rows["i"].is_monotonic_increasing and 1_000 < window.rows["i"].mean() < 3_000


def test_only_answered_records_are_predictions(tmp_path):
    """Failed requests are logged with their status and no score; readers of predictions drop them."""
    now = datetime(2026, 11, 24, 10, tzinfo=UTC)
    log = PredictionLog(tmp_path, replica="r0")
    log.append([{"i": k, "timestamp": (now + timedelta(seconds=k)).isoformat(), "model_version": 1,
                 **({"score": 0.1, "status": 200} if k % 3 else {"score": None, "status": 400 + k, "error": "bad"})}
                for k in range(30)])
    log.close()
    window = read_window(tmp_path, sample_rows=1_000)
    assert window.window_rows == 30
    kept = answered(window.rows, 1)
    assert kept["i"].tolist() == [k for k in range(30) if k % 3] and kept["score"].notna().all()
    assert answered(window.rows, 2).empty
    streamed = list(iter_window(tmp_path, ["i", "score"], segments=window.segments, model_version=1,
                                answered_only=True))
    assert [i for chunk in streamed for i in chunk["i"]] == [k for k in range(30) if k % 3]
    assert all(list(chunk.columns) == ["i", "score"] for chunk in streamed)
    everything = list(iter_window(tmp_path, ["i"], segments=window.segments))
    assert sum(len(chunk) for chunk in everything) == 30
