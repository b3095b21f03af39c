"""The prediction log: per-process Parquet files by hour, written in batches, whole or not at all."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from components.serving.prediction_log import SCHEMA, PredictionLog, log_files, read_prediction_log, replica_id

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def record(request_id: str, **extra) -> dict:
    return {"request_id": request_id, "timestamp": datetime.now(UTC).isoformat(), "score": 0.5,
            "model_version": 1, "amount": 12.5, "merchant_category": "fuel", **extra}


def test_appended_records_read_back_in_order(tmp_path):
    log = PredictionLog(tmp_path)
    log.append([record("a"), record("b")])
    log.append([record("c")])
    log.close()
    assert read_prediction_log(tmp_path)["request_id"].tolist() == ["a", "b", "c"]
    assert read_prediction_log(tmp_path, last_rows=2)["request_id"].tolist() == ["b", "c"]


def test_files_are_per_replica_parquet_under_their_hour(tmp_path):
    log = PredictionLog(tmp_path, replica="predictor-0")
    moment = datetime(2026, 11, 24, 9, 59, 59, tzinfo=UTC)
    log.append([record("a", timestamp=moment.isoformat()),
                record("b", timestamp=(moment + timedelta(seconds=2)).isoformat())])
    log.close()
    names = [Path(p).relative_to(tmp_path).as_posix() for p in log_files(tmp_path)]
    assert [n.rsplit("-", 1)[0] for n in names] == ["date=2026-11-24/hour=09/predictor-0",
                                                    "date=2026-11-24/hour=10/predictor-0"]
    assert all(n.endswith(".parquet") for n in names)
    assert [len(read_prediction_log(tmp_path))] == [2]
    assert list(tmp_path.rglob(".*")) == []  # no hidden half-written file left behind


def test_the_schema_is_fixed_and_records_with_or_without_the_new_keys_fit(tmp_path):
    log = PredictionLog(tmp_path)
    log.append([record("ok"),
                record("failed", status=503, error="online feature store unavailable", score=None),
                record("new", status=200, unknown_category=True, features_missing=False, protocol="v2")])
    log.close()
    [path] = log_files(tmp_path)
    schema = pq.read_schema(path)
    assert schema.names[:len(SCHEMA)] == SCHEMA.names
    assert all(schema.field(f.name).type == f.type for f in SCHEMA)
    rows = read_prediction_log(tmp_path).set_index("request_id")
    assert rows.loc["ok", "status"] == 200 and rows.loc["failed", "status"] == 503
    assert rows.loc["failed", "error"].startswith("online feature store") and rows.loc["failed", "score"] != 0.5
    assert rows["score"].isna().tolist() == [False, True, False]
    assert bool(rows.loc["new", "unknown_category"]) and rows.loc["new", "protocol"] == "v2"
    assert str(rows["timestamp"].dtype) == "datetime64[us, UTC]"


def test_a_failed_record_without_status_is_not_counted_as_answered(tmp_path):
    log = PredictionLog(tmp_path)
    log.append([{"request_id": "x", "error": "boom"}, {"request_id": "y", "score": 0.1}])
    log.close()
    assert read_prediction_log(tmp_path)["status"].tolist() == [500, 200]


def test_a_number_sent_as_text_is_kept_as_text_not_dropped(tmp_path):
    log = PredictionLog(tmp_path)
    log.append([record("a", amount=1.5), record("b", amount="2.5")])
    log.close()
    assert read_prediction_log(tmp_path)["amount"].tolist() == ["1.5", "2.5"]


def test_records_are_batched_until_the_row_count_or_the_interval(tmp_path):
    log = PredictionLog(tmp_path, flush_rows=3, flush_seconds=3600)
    log.append([record("a"), record("b")])
    time.sleep(0.3)
    assert log_files(tmp_path) == []  # buffered: not yet written
    log.append([record("c")])
    deadline = time.monotonic() + 30
    while not log_files(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(log_files(tmp_path)) == 1 and len(read_prediction_log(tmp_path)) == 3
    timed = PredictionLog(tmp_path / "timed", flush_rows=1_000, flush_seconds=0.2)
    timed.append([record("d")])
    deadline = time.monotonic() + 30
    while not log_files(tmp_path / "timed") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert read_prediction_log(tmp_path / "timed")["request_id"].tolist() == ["d"]
    log.close()
    timed.close()


def test_fsspec_uris_work_like_folders(tmp_path):
    for location in (tmp_path.as_uri(), "memory://prediction-log-test/log"):
        log = PredictionLog(location)
        log.append([record("a"), record("b")])
        log.close()
        assert read_prediction_log(location)["request_id"].tolist() == ["a", "b"]


def test_replica_id_comes_from_the_environment_else_host_and_pid():
    assert replica_id("fraud-predictor-7f9c/0") == "fraud-predictor-7f9c_0"
    assert replica_id().endswith(f"-{os.getpid()}")


def test_empty_or_absent_log_reads_as_empty_frame(tmp_path):
    assert read_prediction_log(tmp_path).empty
    assert read_prediction_log(tmp_path / "absent").empty


WRITER = textwrap.dedent("""
    import sys, time
    from components.serving.prediction_log import PredictionLog
    location, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    log = PredictionLog(location, flush_rows=97, flush_seconds=0.05)
    print("ready", flush=True)
    for i in range(count):
        log.append([{"request_id": f"{name}-{i}", "score": i / count, "model_version": 1, "amount": float(i)}])
        if i % 50 == 0:
            time.sleep(0.001)
    print("done", flush=True)
    time.sleep(3600)  # SIGTERM while idle: the handler closes the log
""")
HANDLER = "import signal, sys\nsignal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"


def test_two_processes_writing_at_once_lose_and_repeat_nothing(tmp_path):
    location, count = tmp_path / "log", 3_000
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [subprocess.Popen([sys.executable, "-c", HANDLER + WRITER, str(location), name, str(count)],
                                stdout=subprocess.PIPE, text=True, env=env, start_new_session=True)
               for name in ("one", "two")]
    try:
        for writer in writers:
            assert writer.stdout.readline().strip() == "ready"
        for writer in writers:
            assert writer.stdout.readline().strip() == "done"
            os.killpg(writer.pid, signal.SIGTERM)  # the drain on exit writes what is buffered
            assert writer.wait(timeout=60) == 0
    finally:
        for writer in writers:
            if writer.poll() is None:
                os.killpg(writer.pid, signal.SIGKILL)
                writer.wait()
    files = log_files(location)
    assert len({Path(f).name.rsplit("-", 1)[0] for f in files}) == 2  # one replica name per process
    for path in files:
        pq.read_table(path)  # every file is whole Parquet
    log = read_prediction_log(location)
    expected = {f"{name}-{i}" for name in ("one", "two") for i in range(count)}
    assert len(log) == 2 * count and set(log["request_id"]) == expected
    assert log["request_id"].is_unique and log["score"].notna().all()


def test_the_readme_states_the_batch_settings_the_code_uses():
    """The durability promise (what a crash can lose) is stated in the README from these constants."""
    from components.serving.prediction_log import FLUSH_ROWS, FLUSH_SECONDS

    text = " ".join((ROOT / "components" / "serving" / "README.md").read_text().split())
    assert (f"at most the last {FLUSH_SECONDS:g} seconds of traffic, and never more than {FLUSH_ROWS:,} "
            "records per process") in text
    assert f"every {FLUSH_ROWS:,} records or {FLUSH_SECONDS:g} seconds" in text


def test_records_given_as_columns_and_as_dicts_mix_with_missing_fields_as_nulls(tmp_path):
    """The predictor appends one list per field (``append_columns``); failed requests come as records."""
    now = datetime.now(UTC).isoformat()
    log = PredictionLog(tmp_path, flush_seconds=3600)
    log.append_columns({"request_id": ["a", "b"], "timestamp": [now, now], "score": [0.1, 0.2], "status": [200, 200],
                        "amount": [1.0, 2.0]}, 2)
    log.append([{"request_id": "c", "timestamp": now, "status": 503, "error": "store down"}])
    log.append_columns({"request_id": ["d"], "timestamp": [now], "score": [0.3], "status": [200], "hour": [4]}, 1)
    log.close()
    read = read_prediction_log(tmp_path)
    assert read["request_id"].tolist() == ["a", "b", "c", "d"]
    assert read["status"].tolist() == [200, 200, 503, 200]
    assert read["amount"].tolist()[:2] == [1.0, 2.0] and read["amount"].isna().tolist() == [False, False, True, True]
    assert read["hour"].isna().tolist() == [True, True, True, False]
    assert read["error"].tolist() == [None, None, "store down", None]


@pytest.mark.parametrize("piece_rows", [1, 2, 3, 10])
def test_a_flush_converted_in_pieces_is_the_table_converted_whole(monkeypatch, piece_rows):
    """Pieces type a column alike whatever falls in each: all nulls, ints then floats, numbers then text."""
    from components.serving import prediction_log

    now = datetime.now(UTC).isoformat()
    columns = {"request_id": list("abcdef"), "timestamp": [now] * 6, "status": [200, 200, 200, 200, 500, 200],
               "score": [0.1, 0.2, 0.3, 0.4, None, 0.6], "error": [None, None, None, None, "boom", None],
               "hour": [None, None, None, 4, 5, 6], "amount": [1, 2, 3, 4.5, None, 6],
               "merchant_category": [1, 2, 3, 4, 5, "grocery"], "flag": [True, None, False, True, True, None]}
    whole = prediction_log.table_from_columns(columns, 6)
    monkeypatch.setattr(prediction_log, "PIECE_ROWS", piece_rows)
    in_pieces = prediction_log.table_in_pieces(columns, 6)
    assert in_pieces.schema == whole.schema and in_pieces.combine_chunks().equals(whole.combine_chunks())
    assert in_pieces.column("merchant_category").to_pylist() == ["1", "2", "3", "4", "5", "grocery"]
    prediction_log.free_in_pieces(columns, 6)
    assert all(values == [] for values in columns.values())


def test_the_first_writer_runs_at_idle_priority_and_a_second_catches_up_when_it_starves(monkeypatch, tmp_path):
    """On Linux the writer that flushes each batch yields the CPU to requests (SCHED_IDLE); a CPU that
    requests keep busy starves it, and then the normal-priority writer writes once two batches wait."""
    from components.serving import prediction_log

    def idle_allowed() -> bool:  # a sandbox may refuse the policy: the writer then keeps normal priority
        allowed = []

        def attempt():
            try:
                os.sched_setscheduler(threading.get_native_id(), os.SCHED_IDLE, os.sched_param(0))
                allowed.append(True)
            except OSError:
                allowed.append(False)
        probe = threading.Thread(target=attempt)
        probe.start()
        probe.join()
        return allowed[0]

    log = PredictionLog(tmp_path / "idle", flush_seconds=3600)
    try:
        first, second = (os.sched_getscheduler(writer.native_id) for writer in log._writers)
        assert (first, second) == (os.SCHED_IDLE if idle_allowed() else os.SCHED_OTHER, os.SCHED_OTHER)
    finally:
        log.close()

    starved = threading.Event()
    monkeypatch.setattr(prediction_log, "lower_writer_priority", starved.wait)  # never scheduled until set
    now = datetime.now(UTC).isoformat()
    log = PredictionLog(tmp_path / "starved", flush_rows=10, flush_seconds=3600)
    log.append([{"request_id": str(i), "timestamp": now, "score": 0.5} for i in range(15)])
    time.sleep(0.5)
    assert log_files(tmp_path / "starved") == []  # one batch and a half: still the idle writer's
    log.append([{"request_id": str(i), "timestamp": now, "score": 0.5} for i in range(15, 20)])
    deadline = time.monotonic() + 10
    while not log_files(tmp_path / "starved") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(read_prediction_log(tmp_path / "starved")) == 20
    starved.set()
    log.close()


def test_a_failing_store_is_tried_once_per_interval_and_nothing_is_lost(monkeypatch, tmp_path):
    """A buffer past its batch size must not retry in a loop while the store is down."""
    from components.serving import prediction_log

    real_write, attempts = prediction_log.write_file, []

    def down(fs, path, table):
        attempts.append(path)
        raise OSError("store unreachable")
    monkeypatch.setattr(prediction_log, "write_file", down)
    now = datetime.now(UTC).isoformat()
    log = PredictionLog(tmp_path, flush_rows=10, flush_seconds=3600)
    log.append([{"request_id": str(i), "timestamp": now, "score": 0.5} for i in range(30)])
    time.sleep(1.0)
    assert 1 <= len(attempts) <= 2  # one attempt per writer, then each waits its interval
    monkeypatch.setattr(prediction_log, "write_file", real_write)
    log.close()
    assert sorted(read_prediction_log(tmp_path)["request_id"], key=int) == [str(i) for i in range(30)]
