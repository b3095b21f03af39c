"""Read a window of the prediction log by time range, in bounded memory, without scanning history.

The log is partitioned by hour (components/serving/prediction_log.py). A window lists only the hour
partitions it covers (one ``ls`` per day of the window, one per hour), and reads only Parquet
footers to plan: each file's row count and its min/max timestamp statistics. A file wholly inside
the window is never filtered row by row; only files that straddle the window's start have their
timestamp column read, with a pyarrow filter. Then:

- ``read_window`` picks ``sample_rows`` rows, each row of the window with the same chance, from
  at most ``sample_files`` files, and decodes only those files. Effect-size drift scores of a
  20,000-row sample differ from the full window's by a few thousandths (benchmarks/drift).
- ``iter_window`` streams a few columns of every row of the window, one file at a time, for the
  decisions that must be made on all rows (monitoring/drift_compute.py ``exact_drift``).

``last_rows`` keeps the newest rows: files are ordered by their newest timestamp and the oldest
file's oldest rows are dropped, which is exact for one writer and exact to within one flush
interval of the boundary when several replicas write at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from components.serving.prediction_log import TIMESTAMP, is_local, open_location

DEFAULT_SAMPLE_ROWS = 20_000
MODEL_VERSION = "model_version"
STATUS, ANSWERED = "status", 200  # failed requests are records too (status 4xx/5xx, no score): not predictions
DEFAULT_SAMPLE_FILES = 200  # files decoded for the sample, whatever the window's size


@dataclass
class ReadStats:
    """What a read cost: folders listed, partitions planned, files whose data was read, rows decoded, bytes."""

    listings: int = 0
    partitions: int = 0
    files: int = 0
    rows: int = 0
    bytes: int = 0
    paths: list[str] = field(default_factory=list)

    def read(self, path: str, rows: int, size: int) -> None:
        self.files, self.rows, self.bytes = self.files + 1, self.rows + rows, self.bytes + size
        self.paths.append(path)


@dataclass(frozen=True)
class Segment:
    """One file of the window and which of its rows belong to it (None: all of them)."""

    path: str
    rows: int
    size: int
    oldest: int  # timestamp range of the file (Parquet statistics), microseconds since the epoch
    newest: int
    keep: np.ndarray | None = None  # row positions in the window, ascending

    @property
    def kept(self) -> int:
        return self.rows if self.keep is None else len(self.keep)


@dataclass(frozen=True)
class WindowSample:
    rows: pd.DataFrame  # the sampled rows, oldest first
    window_rows: int  # rows in the window the sample was drawn from
    stats: ReadStats = field(default_factory=ReadStats)
    segments: list[Segment] = field(default_factory=list)  # the window's files, for streamed passes


def window_start(minutes: float | None) -> datetime | None:
    """The start of a time window of the last ``minutes`` (None: no time bound)."""
    return None if minutes is None else datetime.now(UTC) - timedelta(minutes=minutes)


def partition_folders(fs, path: str, prefix: str) -> list[str]:
    """Sub-folders ``<prefix>=...`` of ``path``, by name (oldest first)."""
    try:
        entries = fs.ls(path, detail=True)
    except FileNotFoundError:
        return []
    return sorted(e["name"].rstrip("/") for e in entries
                  if e["type"] == "directory" and e["name"].rstrip("/").rsplit("/", 1)[-1].startswith(prefix + "="))


def partition_value(path: str) -> str:
    return path.rsplit("/", 1)[-1].split("=", 1)[1]


def _partitions_newest_first(fs, root: str, since: datetime | None, stats: ReadStats) -> Iterator[str]:
    """Hour partitions at or after ``since``'s hour, newest first, listing each day only when reached."""
    days = partition_folders(fs, root, "date")
    stats.listings += 1
    first = None if since is None else (f"{since.astimezone(UTC):%Y-%m-%d}", f"{since.astimezone(UTC):%H}")
    for day in reversed(days):
        if first is not None and partition_value(day) < first[0]:
            return
        stats.listings += 1
        for hour in reversed(partition_folders(fs, day, "hour")):
            if first is not None and (partition_value(day), partition_value(hour)) < first:
                return
            stats.partitions += 1
            yield hour


def window_partitions(location: str | Path, since: datetime | None, stats: ReadStats | None = None) -> list[str]:
    """The hour partitions that can hold rows at or after ``since`` (all when None), oldest first.

    Lists only the days from ``since``'s day on and the hours of those days: never older history.
    """
    fs, root = open_location(location)
    stats = stats if stats is not None else ReadStats()
    return list(reversed(list(_partitions_newest_first(fs, root, since, stats))))


def _micros(moment: datetime) -> int:
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000)


def _time_range(metadata: pq.FileMetaData) -> tuple[int, int]:
    """The file's oldest and newest timestamps from its footer (the widest range without statistics)."""
    column = metadata.schema.to_arrow_schema().get_field_index(TIMESTAMP)
    groups = [metadata.row_group(g).column(column).statistics for g in range(metadata.num_row_groups)]
    if column < 0 or not groups or any(s is None or not s.has_min_max for s in groups):
        return 0, 2**62
    return min(_micros(s.min) for s in groups), max(_micros(s.max) for s in groups)


def _segments_of(fs, partition: str) -> list[Segment]:
    segments = []
    for entry in fs.ls(partition, detail=True):
        name = entry["name"].rsplit("/", 1)[-1]
        if entry["type"] != "file" or name.startswith(".") or not name.endswith(".parquet"):
            continue
        metadata = pq.read_metadata(entry["name"], filesystem=fs)
        segments.append(Segment(entry["name"], metadata.num_rows, int(entry.get("size") or 0),
                                *_time_range(metadata)))
    return segments


def window_segments(location: str | Path, *, last_rows: int | None = None, since: datetime | None = None,
                    stats: ReadStats | None = None) -> list[Segment]:
    """The files of the window (oldest first) with the rows of each that belong to it."""
    fs, root = open_location(location)
    stats = stats if stats is not None else ReadStats()
    segments, rows = [], 0
    # Newest hours first: a window of the newest rows stops at the hour that completes it.
    for partition in _partitions_newest_first(fs, root, since, stats):
        found = _segments_of(fs, partition)
        segments += found
        rows += sum(s.rows for s in found)
        if last_rows is not None and rows >= last_rows:
            break
    segments.sort(key=lambda s: (s.newest, s.path))
    if since is not None:
        start = _micros(since)
        segments = [s if s.oldest >= start else _since(fs, s, since, stats)  # statistics decide most files
                    for s in segments if s.newest >= start]
    if last_rows is not None:
        chosen, covered = [], 0
        for segment in reversed(segments):
            if covered >= last_rows:
                break
            chosen.append(segment)
            covered += segment.kept
        segments = list(reversed(chosen))
        if covered > last_rows:  # the oldest file holds rows older than the newest ``last_rows``
            oldest = segments[0]
            kept = np.arange(oldest.rows) if oldest.keep is None else oldest.keep
            segments[0] = Segment(oldest.path, oldest.rows, oldest.size, oldest.oldest, oldest.newest,
                                  kept[covered - last_rows:])
    return [s for s in segments if s.kept]


def _since(fs, segment: Segment, since: datetime, stats: ReadStats) -> Segment:
    """``segment`` (which straddles ``since``) with only its rows at or after it."""
    times = pq.read_table(segment.path, filesystem=fs, columns=[TIMESTAMP]).column(TIMESTAMP)
    stats.read(segment.path, len(times), segment.size)
    mask = pc.greater_equal(times, pd.Timestamp(since).as_unit("us")).to_numpy(zero_copy_only=False)
    return Segment(segment.path, segment.rows, segment.size, segment.oldest, segment.newest, np.flatnonzero(mask))


def _read(fs, segment: Segment, columns: list[str] | None, stats: ReadStats,
          rows: np.ndarray | None = None) -> pa.Table:
    """``columns`` (those the file has; all when None) of a file, then only ``rows`` when given."""
    # A local file through Arrow's own reader (memory-mapped, no Python file object in between).
    with (nullcontext(segment.path) if is_local(fs) else fs.open(segment.path, "rb")) as source:
        parquet = pq.ParquetFile(source, memory_map=is_local(fs))
        present = None if columns is None else [c for c in columns if c in parquet.schema_arrow.names]
        table = parquet.read(columns=present)
    stats.read(segment.path, table.num_rows, segment.size)
    return table if rows is None else table.take(pa.array(rows, pa.int64()))


def _frame(table: pa.Table) -> pd.DataFrame:
    # Column by column: much cheaper than Table.to_pandas for the few columns of a streamed pass.
    return pd.DataFrame({name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names})


def _blocks(sizes: list[int], least: int) -> list[list[int]]:
    """Consecutive files grouped so that every group holds at least ``least`` rows."""
    blocks: list[list[int]] = [[]]
    rows = 0
    for index, size in enumerate(sizes):
        if rows >= least:
            blocks.append([])
            rows = 0
        blocks[-1].append(index)
        rows += size
    if len(blocks) > 1 and rows < least:
        blocks[-2] += blocks.pop()
    return blocks


def _spread(picked: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    """Sorted positions in the concatenation of files -> positions within each file."""
    edges = np.cumsum([0, *sizes])
    return [picked[(picked >= lo) & (picked < hi)] - lo for lo, hi in zip(edges[:-1], edges[1:], strict=True)]


def _sample_positions(sizes: list[int], sample_rows: int, sample_files: int,
                      rng: np.random.Generator) -> list[np.ndarray]:
    """Sorted positions to take from each file: every row of the window has the same chance.

    A small window, or one in few files, gets a simple random sample. Otherwise only about
    ``sample_files`` files are decoded, in two stages: consecutive files grouped into blocks of at
    least ``sample_rows / sample_files`` rows, blocks picked systematically with probability
    proportional to their rows (evenly spread over the window's time, as files are in time order),
    and that many rows at random from each pick.
    """
    window = sum(sizes)
    if window <= sample_rows:
        return [np.arange(size) for size in sizes]
    per_hit = sample_rows // sample_files
    if len(sizes) <= sample_files or window < 2 * sample_rows or per_hit < 1:
        return _spread(np.sort(rng.choice(window, size=sample_rows, replace=False)), sizes)
    blocks = _blocks(sizes, per_hit)
    block_sizes = [sum(sizes[i] for i in block) for block in blocks]
    hits = np.floor((rng.random() + np.arange(sample_files)) * (window / sample_files))
    wanted = np.bincount(np.searchsorted(np.cumsum(block_sizes), hits, side="right"), minlength=len(blocks))
    positions = [np.array([], dtype=int)] * len(sizes)
    for block, size, want in zip(blocks, block_sizes, wanted * per_hit, strict=True):
        if want:  # a block of fewer rows than a pick's share is never picked twice (window >= 2 samples)
            picked = np.sort(rng.choice(size, size=want, replace=False))
            for index, mine in zip(block, _spread(picked, [sizes[i] for i in block]), strict=True):
                positions[index] = mine
    return positions


def read_window(location: str | Path, *, last_rows: int | None = None, since: datetime | None = None,
                sample_rows: int = DEFAULT_SAMPLE_ROWS, seed: int = 0,
                sample_files: int = DEFAULT_SAMPLE_FILES) -> WindowSample:
    """A uniform sample of at most ``sample_rows`` of the window's predictions, oldest first.

    ``since`` (timezone-aware) keeps only predictions logged at or after it; ``last_rows`` only the
    newest rows. Without either bound the window is the whole log. The seed makes a given window
    give the same sample every time. At most ``sample_files`` files are read (``_sample_positions``).
    """
    if sample_rows < 1 or sample_files < 1:
        raise ValueError("sample_rows and sample_files must be at least 1")
    stats = ReadStats()
    segments = window_segments(location, last_rows=last_rows, since=since, stats=stats)
    window = sum(s.kept for s in segments)
    positions = _sample_positions([s.kept for s in segments], sample_rows, sample_files,
                                  np.random.default_rng(seed))
    fs, _ = open_location(location)
    frames = [_read(fs, segment, None, stats, mine if segment.keep is None else segment.keep[mine]).to_pandas()
              for segment, mine in zip(segments, positions, strict=True) if len(mine)]
    sample = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return WindowSample(sample, window, stats, segments)


def answered(rows: pd.DataFrame, model_version: int | None = None) -> pd.DataFrame:
    """The predictions among logged records: status 200 (a log without the column holds only those),
    of ``model_version`` when given."""
    keep = pd.Series(True, index=rows.index)
    if STATUS in rows.columns:
        keep &= pd.to_numeric(rows[STATUS], errors="coerce") == ANSWERED
    if model_version is not None:
        keep &= (pd.to_numeric(rows[MODEL_VERSION], errors="coerce") == model_version
                 if MODEL_VERSION in rows.columns else False)
    return rows if keep.all() else rows[keep]


def iter_window(location: str | Path, columns: list[str], *, last_rows: int | None = None,
                since: datetime | None = None, stats: ReadStats | None = None,
                segments: list[Segment] | None = None, model_version: int | None = None,
                answered_only: bool = False) -> Iterator[pd.DataFrame]:
    """``columns`` of every row of the window, one file at a time (memory: one file's columns).

    ``segments`` (a sample's) reads exactly the files and rows the sample was drawn from, without
    planning again, even if files were added since. ``model_version`` keeps only that version's rows;
    ``answered_only`` only predictions (status 200), not the records of failed requests.
    """
    stats = stats if stats is not None else ReadStats()
    fs, _ = open_location(location)
    if segments is None:
        segments = window_segments(location, last_rows=last_rows, since=since, stats=stats)
    extra = ([MODEL_VERSION] if model_version is not None else []) + ([STATUS] if answered_only else [])
    wanted = [*columns, *[c for c in extra if c not in columns]]
    for segment in segments:
        table = _read(fs, segment, wanted, stats, segment.keep)
        if model_version is not None:
            if MODEL_VERSION not in table.column_names:
                continue
            table = table.filter(pc.equal(table.column(MODEL_VERSION), model_version))
        if answered_only and STATUS in table.column_names:
            table = table.filter(pc.equal(table.column(STATUS), ANSWERED))
        yield _frame(table.drop_columns([c for c in extra if c not in columns and c in table.column_names]))


def answered_count(location: str | Path, since: datetime | None = None) -> int:
    """How many predictions (status 200) the log holds, since ``since``; only the status column is read."""
    return sum(len(frame) for frame in iter_window(location, [STATUS], since=since, answered_only=True))
