"""The prediction log: each predictor process writes its own Parquet files, by hour, in batches.

Layout under the log location (a local folder or an fsspec URI such as ``s3://bucket/predictions``)::

    date=YYYY-MM-DD/hour=HH/<replica>-<seq>.parquet

``<replica>`` is the host name (the pod's name on a cluster) and process id, so no two processes ever
write one file; ``<seq>`` grows with every file a process writes and starts from the process's start
time, so a restarted replica with the same id does not overwrite its earlier files. A file appears
whole or not at all: a local file is written under a hidden name, fsynced and renamed; an object
store publishes an object only when its upload completes. Readers ignore names starting with ``.``.

Records are buffered and written every ``flush_rows`` records or ``flush_seconds`` seconds, whichever
comes first, by a background thread at idle priority, so that writing never takes the CPU from a
request; a second one, at normal priority, writes when the first falls behind. The request path only
appends to lists. ``close()`` (the predictor's stop on SIGTERM) and interpreter exit write what is
left. See the README for what a crash can lose. Columns (``SCHEMA`` first, fixed types; then one
column per request field and online feature, named as in the use case, typed from its values: int64,
float64, bool or string).
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import socket
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

logger = logging.getLogger(__name__)

# The envelope of every record: fixed names and types, whatever the use case.
SCHEMA = pa.schema([
    ("request_id", pa.string()),
    ("timestamp", pa.timestamp("us", tz="UTC")),  # when the request was answered
    ("status", pa.int16()),  # HTTP status of the request: 200, or the error's code (no score then)
    ("error", pa.string()),  # the error message of a failed request, else null
    ("model_version", pa.int32()),
    ("score", pa.float64()),  # null for a failed request
    ("protocol", pa.string()),
    ("features_missing", pa.bool_()),
    ("features_stale", pa.bool_()),
])
ENVELOPE = frozenset(SCHEMA.names)
TIMESTAMP = "timestamp"
FLUSH_ROWS, FLUSH_SECONDS = 10_000, 10.0
# A flush converts its records this many rows per Arrow call and lets go of the GIL between calls, so
# an idle-priority writer preempted while holding it keeps a request waiting for one piece at most.
# On its own (at normal priority) this made no measurable difference to p99: the priority did.
PIECE_ROWS = 1_000
# A second writer at normal priority writes when the idle-priority one has fallen this many batches
# behind (a CPU saturated by requests leaves an idle-priority thread nothing).
CATCH_UP_BATCHES = 2
SEQ_DIGITS = 20
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def replica_id(name: str | None = None) -> str:
    """This process's name in file names: host name (the pod's name on a cluster) and process id, so
    two workers of one pod never share a file; ``name`` overrides it (tests)."""
    raw = name or f"{socket.gethostname()}-{os.getpid()}"
    return _UNSAFE.sub("_", raw).strip("_") or "replica"


def open_location(location: str | Path) -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem and root path of a log location (a folder path or any fsspec URI)."""
    fs, root = fsspec.core.url_to_fs(str(location))
    return fs, root.rstrip("/")


def is_local(fs: fsspec.AbstractFileSystem) -> bool:
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
    return bool({"file", "local"} & set(protocols))


def partition(moment: datetime) -> str:
    """The hour partition holding ``moment`` (UTC)."""
    moment = moment.astimezone(UTC)
    return f"date={moment:%Y-%m-%d}/hour={moment:%H}"


def _timestamp(value) -> datetime:
    if value is None:
        return datetime.now(UTC)
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    elif isinstance(value, int | float):
        value = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _status(record: dict) -> int:
    """HTTP status: the record's own (a number, or text like "503"), else 200 when it has a score."""
    value = record.get("status")
    if isinstance(value, bool) or value is None:
        return 200 if record.get("score") is not None and not record.get("error") else 500
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if text.isdigit() else (200 if text.lower() in ("ok", "success") else 500)


def _column(values: list) -> pa.Array:
    """A column typed from its values; mixed kinds (a number sent as text) are kept as text."""
    try:
        return pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())


def _at_once(convert, one_by_one, nulls: bool = False) -> pa.Array:
    """``convert()``, one Arrow conversion of a whole column, for the values the predictor writes (text
    timestamps with a zone, int statuses, str ids); else ``one_by_one()`` in Python, for records from
    elsewhere (naive or missing timestamps, text statuses, numeric ids). Unless ``nulls`` may stay, a
    null (a missing timestamp or status, derived per record) sends it one by one too."""
    try:
        converted = convert()
        if nulls or converted.null_count == 0:
            return converted
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError):
        pass
    return one_by_one()


def _text(values: list) -> pa.Array:
    return _at_once(lambda: pa.array(values, pa.string()),
                    lambda: pa.array([None if v is None else str(v) for v in values], pa.string()), nulls=True)


def columns_of(records: list[dict]) -> dict[str, list]:
    """Records as one list per field (in first-seen order), None where a record lacks the field."""
    names = dict.fromkeys(k for r in records for k in r)
    return {name: [r.get(name) for r in records] for name in names}


def table_from_columns(columns: dict[str, list], rows: int) -> pa.Table:
    """One list per field, ``rows`` long, as a table: the envelope's fixed columns, then the others in
    their order. The predictor's own values convert in one Arrow call per column, no Python loop per
    row: the writer thread then holds the GIL only in short pieces (see ``PredictionLog``)."""
    def given(name: str) -> list:
        return columns[name] if name in columns else [None] * rows
    envelope = {
        "request_id": _text(given("request_id")),
        TIMESTAMP: _at_once(lambda: pa.array(given(TIMESTAMP), pa.string()).cast(SCHEMA.field(TIMESTAMP).type),
                            lambda: pa.array([_timestamp(v) for v in given(TIMESTAMP)], SCHEMA.field(TIMESTAMP).type)),
        "status": _at_once(lambda: pa.array(given("status"), pa.int16()),
                           lambda: pa.array([_status({"status": s, "score": c, "error": e}) for s, c, e in
                                             zip(given("status"), given("score"), given("error"), strict=True)],
                                            pa.int16())),
        "error": _text(given("error")),
    }
    for name in SCHEMA.names:
        if name not in envelope:
            envelope[name] = pa.array(given(name), SCHEMA.field(name).type, from_pandas=True)
    others = {name: _column(values) for name, values in columns.items() if name not in ENVELOPE}
    return pa.table({**envelope, **others})


def table_in_pieces(columns: dict[str, list], rows: int) -> pa.Table:
    """``table_from_columns`` for the writer thread: ``PIECE_ROWS`` rows per Arrow call, and the GIL let
    go between calls.

    A column typed from its values comes out as a whole conversion would type it: a piece of nulls takes
    the type of the others; pieces typed differently (ints in one, text in another) convert again whole.
    """
    if rows <= PIECE_ROWS:
        return table_from_columns(columns, rows)
    pieces = []
    for start in range(0, rows, PIECE_ROWS):
        piece = {name: values[start:start + PIECE_ROWS] for name, values in columns.items()}
        pieces.append(table_from_columns(piece, min(PIECE_ROWS, rows - start)))
        time.sleep(0)  # lets go of the GIL: a request waiting for it runs now, not after the switch interval
    table = {}
    for name in pieces[0].column_names:
        parts = [piece.column(name) for piece in pieces]
        kinds = {part.type for part in parts} - {pa.null()}
        if len(kinds) <= 1:
            kind = next(iter(kinds), pa.null())
            table[name] = pa.chunked_array([part.cast(kind) for part in parts], kind)
        else:  # ints in one piece and floats or text in another: typed as the whole column would be
            table[name] = _column([value for part in parts for value in part.to_pylist()])
    return pa.table(table)


def free_in_pieces(columns: dict[str, list], rows: int) -> None:
    """Empty ``columns`` ``PIECE_ROWS`` rows at a time, letting go of the GIL in between: freeing
    10,000 records' values at once held it as long as converting them."""
    for start in reversed(range(0, rows, PIECE_ROWS)):  # from the end: no list shifts its items
        for values in columns.values():
            del values[start:]
        time.sleep(0)


def lower_writer_priority() -> None:
    """The calling thread runs only when the CPU has nothing else to run (Linux's SCHED_IDLE, for this
    thread alone); elsewhere, or where it is not allowed, it keeps the process's priority.

    Why: on the predictor's core a flush took the CPU from the requests that arrived meanwhile (about
    15 ms of CPU per 10,000 records), and those requests made p99 at one connection: 1.1-2.4 ms with
    flushes at normal priority, 0.8-1.2 ms at idle priority, as without flushes (0.5-1.3 ms; the serving
    bench's servers, interleaved). A raised nice value (5) changed nothing measurable.
    """
    try:
        os.sched_setscheduler(threading.get_native_id(), os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        pass


def to_table(records: list[dict]) -> pa.Table:
    """Records as one table: the envelope's fixed columns, then the others in first-seen order."""
    return table_from_columns(columns_of(records), len(records))


def write_file(fs: fsspec.AbstractFileSystem, path: str, table: pa.Table) -> None:
    """Write ``table`` so that readers see the whole file or none of it."""
    directory, name = path.rsplit("/", 1)
    fs.makedirs(directory, exist_ok=True)
    if not is_local(fs):  # an object appears only once its upload completes
        with fs.open(path, "wb") as out:
            pq.write_table(table, out)
        return
    hidden = f"{directory}/.{name}.{uuid.uuid4().hex}.tmp"
    # Arrow's own file writer, given a path, writes without the GIL; through a Python file object every
    # chunk would take the GIL back from the requests being answered.
    pq.write_table(table, hidden)
    descriptor = os.open(hidden, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(hidden, path)


class PredictionLog:
    """Buffered writer of one predictor process; ``append`` never waits for storage."""

    def __init__(self, location: str | Path, *, replica: str | None = None, flush_rows: int = FLUSH_ROWS,
                 flush_seconds: float = FLUSH_SECONDS):
        if flush_rows < 1 or flush_seconds <= 0:
            raise ValueError("flush_rows must be at least 1 and flush_seconds above 0")
        self.location = str(location)
        self.fs, self.root = open_location(location)
        self.fs.makedirs(self.root, exist_ok=True)
        self.replica = replica or replica_id()
        self.flush_rows, self.flush_seconds = flush_rows, flush_seconds
        self._seq = time.time_ns() // 1000  # microseconds at start: a restart continues above it
        # Buffered records as one list per field (``append_columns``): the request path extends lists,
        # and a flush converts them a piece at a time (``table_in_pieces``), not a dict per record.
        self._columns: dict[str, list] = {}
        self._rows = 0
        self._wake = threading.Condition()
        self._swapped_at = time.monotonic()  # when a flush last took the buffer
        self._seq_lock = threading.Lock()  # two batches may be written at once (see ``_run``)
        self._closed = False
        self._writers = [threading.Thread(target=self._run, args=(patience,), daemon=True,
                                          name=f"prediction-log-writer-{patience}")
                         for patience in (1, CATCH_UP_BATCHES)]
        for writer in self._writers:
            writer.start()
        atexit.register(self.close)  # interpreter exit drains too, in case the owner never calls close()

    @property
    def closed(self) -> bool:
        return self._closed

    def append(self, records: list[dict]) -> None:
        self.append_columns(columns_of(records), len(records))

    def append_columns(self, columns: dict[str, list], rows: int) -> None:
        """``rows`` records given as one list per field, each ``rows`` long (the predictor's form)."""
        with self._wake:
            if self._closed:
                raise RuntimeError("the prediction log is closed")
            before = self._rows
            self._extend(columns, rows)
            if any(before < self.flush_rows * patience <= self._rows for patience in (1, CATCH_UP_BATCHES)):
                self._wake.notify_all()

    def _extend(self, columns: dict[str, list], rows: int) -> None:
        buffer = self._columns
        for name, values in columns.items():
            held = buffer.get(name)
            if held is None:
                buffer[name] = held = [None] * self._rows
            held.extend(values)
        self._rows += rows
        if len(buffer) > len(columns):  # fields these records lack
            for held in buffer.values():
                if len(held) < self._rows:
                    held.extend([None] * (self._rows - len(held)))

    def flush(self) -> int:
        """Write every buffered record now; the number of records written."""
        with self._wake:
            columns, rows = self._columns, self._rows
            self._columns, self._rows = {}, 0
            self._swapped_at = time.monotonic()
        if not rows:
            return 0
        try:
            self._write(columns, rows)
        except Exception:
            with self._wake:  # keep them, first, for the next attempt rather than lose them
                later, later_rows = self._columns, self._rows
                self._columns, self._rows = columns, rows
                self._extend(later, later_rows)
            raise
        free_in_pieces(columns, rows)
        return rows

    def close(self) -> None:
        """Stop the writer threads and write what is buffered (idempotent)."""
        with self._wake:
            if self._closed:
                return
            self._closed = True
            self._wake.notify_all()
        atexit.unregister(self.close)
        for writer in self._writers:
            if writer is not threading.current_thread():
                writer.join()
        self.flush()

    def _run(self, patience: int) -> None:
        """A writer thread: it writes the buffer once it holds ``patience`` batches (``flush_rows``
        records, or ``flush_seconds`` since a writer last took it). The first writer (patience 1) runs
        at idle priority, so writing never takes the CPU from a request; the second, at normal priority,
        writes only when the first has fallen behind, so memory and what a crash can lose stay bounded."""
        if patience == 1:
            lower_writer_priority()
        while True:
            with self._wake:
                while not self._closed and self._rows < self.flush_rows * patience:
                    remaining = self._swapped_at + self.flush_seconds * patience - time.monotonic()
                    if remaining <= 0:
                        break
                    self._wake.wait(remaining)
                if self._closed:
                    return
            try:
                self.flush()
            except Exception:  # storage down: the records stay buffered and are tried again
                logger.exception("prediction log write failed; %d records kept for the next attempt",
                                 self._rows)
                with self._wake:  # in one interval: a full buffer would otherwise retry at once, in a loop
                    self._wake.wait_for(lambda: self._closed, timeout=self.flush_seconds)

    def _write(self, columns: dict[str, list], rows: int) -> None:
        table = table_in_pieces(columns, rows)
        hours = hours_of(table)
        for hour in sorted(set(hours)):
            part = table if len(set(hours)) == 1 else table.filter(pa.array([h == hour for h in hours]))
            with self._seq_lock:
                self._seq += 1
                name = f"{self.replica}-{self._seq:0{SEQ_DIGITS}d}.parquet"
            write_file(self.fs, f"{self.root}/{partition(datetime.fromtimestamp(hour * 3600, UTC))}/{name}", part)


def hours_of(table: pa.Table) -> list[int]:
    """The UTC hour (hours since the epoch) of every row."""
    micros = table.column(TIMESTAMP).cast(pa.int64()).to_numpy(zero_copy_only=False)
    return (micros // 3_600_000_000).tolist()


def log_files(location: str | Path) -> list[str]:
    """Every published file of the log (hidden, half-written files excluded), oldest partition first."""
    fs, root = open_location(location)
    if not fs.exists(root):
        return []
    found = [p for p in fs.find(root) if p.endswith(".parquet") and not p.rsplit("/", 1)[1].startswith(".")]
    return sorted(found)


def read_prediction_log(location: str | Path, last_rows: int | None = None) -> pd.DataFrame:
    """Every written record (the newest ``last_rows`` when given), oldest first, as a DataFrame.

    For tests and small logs: the drift job reads windows through monitoring/window.py instead.
    """
    fs, _ = open_location(location)
    frames = [pq.read_table(path, filesystem=fs).to_pandas() for path in log_files(location)]
    if not frames:
        return pd.DataFrame()
    log = pd.concat(frames, ignore_index=True)
    log = log.sort_values(TIMESTAMP, kind="stable").reset_index(drop=True)
    return log if last_rows is None else log.tail(last_rows).reset_index(drop=True)
