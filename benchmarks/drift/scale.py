"""The drift job at 1M and 10M logged predictions x 20 features: wall time and peak RSS.

    python -m benchmarks.drift.scale [--rows 1000000 10000000]

Each size gets a fresh prediction log: one clock hour of predictions in the predictor's layout
(files of 10,000 rows), written by a first subprocess. A second subprocess runs the drift job on
that hour (``since`` = the hour's start): the bounded sample, Evidently on it, the exact re-compute
of inputs near the threshold on every row (``amount`` is scaled to land there, so that path runs),
and the HTML report. Its own peak RSS (getrusage) and the job's wall time are what is reported;
imports (and one tiny warm-up comparison that loads Evidently's lazy imports) happen before the
clock starts, as in the long-running monitor. The reference is the
50,000-row snapshot monitoring/reference.py keeps. Other scale benchmarks call ``run_drift_at``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).with_name("scale-results.md")
REFERENCE_ROWS, REFERENCE_SAMPLE = 100_000, 50_000
AMOUNT_SCALE = 1.12  # puts amount's drift score near the 0.1 threshold: decided again on every row
HOUR = datetime(2026, 11, 24, 10, tzinfo=UTC)


def _python(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "benchmarks.drift.scale", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark step {args[0]} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def run_drift_at(rows: int) -> dict:
    """Prepare a log of ``rows`` predictions, run the drift job on it in a subprocess; its figures.

    Keys: wall_seconds (the job), peak_rss_bytes (the job's process), plus what it decided and read.
    """
    with tempfile.TemporaryDirectory(prefix="drift-scale-") as tmp:
        _python("prepare", "--rows", str(rows), "--dir", tmp)
        return json.loads(_python("job", "--dir", tmp).strip().splitlines()[-1])


def prepare(rows: int, directory: Path) -> None:
    from benchmarks.drift.data import frame, write_window

    frame(REFERENCE_ROWS, 7, None).sample(REFERENCE_SAMPLE, random_state=0).to_parquet(directory / "reference.parquet")
    write_window(directory / "log", rows, HOUR, amount_scale=AMOUNT_SCALE)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def job(directory: Path) -> dict:
    import pandas as pd

    from benchmarks.drift.data import CATEGORICAL, NUMERICAL
    from monitoring.drift import drift_of_window
    from monitoring.drift_compute import compute_drift, save_report
    from monitoring.window import iter_window, read_window

    reference = pd.read_parquet(directory / "reference.parquet")
    # Evidently's imports (seconds) happen on the running monitor's first run only: not timed.
    compute_drift(reference.head(2_000), reference.head(2_000), NUMERICAL, CATEGORICAL)
    log = directory / "log"
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    window = read_window(log, since=HOUR)
    current = window.rows[window.rows["model_version"] == 1]

    def read_full(columns):
        return iter_window(log, columns, stats=window.stats, segments=window.segments, model_version=1)

    drift, exact = drift_of_window(reference, NUMERICAL, CATEGORICAL, window, current, read_full)
    save_report(drift, directory / "report.html")
    seconds = time.perf_counter() - started
    return {"rows": window.window_rows, "wall_seconds": round(seconds, 3),
            "cpu_seconds": round(_cpu_seconds() - cpu_before, 3),
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "rss_after_imports_bytes": rss_before, "exact_columns": exact,
            "drifted": [f.feature for f in drift.features if f.drifted],
            "files_read": window.stats.files, "rows_read": window.stats.rows}


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="step")
    step = sub.add_parser("prepare")
    step.add_argument("--rows", type=int, required=True)
    step.add_argument("--dir", type=Path, required=True)
    sub.add_parser("job").add_argument("--dir", type=Path, required=True)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    args = parser.parse_args()
    if args.step == "prepare":
        prepare(args.rows, args.dir)
    elif args.step == "job":
        print(json.dumps(job(args.dir)))
    else:
        report(args.rows)


def report(sizes: list[int]) -> None:
    lines = [f"# Drift job at scale ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)", "",
             f"`uptime` at start: `{subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}`", "",
             "One run per size on a shared 2-core machine. 20 features; one hour of predictions in files "
             "of 10,000 rows; `amount` scaled to score near the threshold so it is decided again on every row.",
             "", "| logged predictions | job s (wall) | job CPU s | peak RSS MiB | RSS after imports MiB "
             "| decided on all rows | drifted | files read | rows decoded |",
             "|---:|---:|---:|---:|---:|---|---|---:|---:|"]
    for rows in sizes:
        got = run_drift_at(rows)
        lines.append(f"| {rows:,} | {got['wall_seconds']:.2f} | {got['cpu_seconds']:.2f} | "
                     f"{got['peak_rss_bytes'] / 2**20:.0f} | "
                     f"{got['rss_after_imports_bytes'] / 2**20:.0f} | {', '.join(got['exact_columns']) or '-'} | "
                     f"{', '.join(got['drifted']) or 'none'} | {got['files_read']:,} | {got['rows_read']:,} |")
        print(lines[-1], flush=True)
    lines += ["", f"`uptime` at end: `{subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}`"]
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
