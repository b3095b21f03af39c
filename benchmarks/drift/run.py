"""`make bench-drift`: the drift job against a plain Evidently DataDriftPreset run on the same data.

Data (benchmarks/drift/data.py): the fraud generator's request columns plus 17 unshifted columns,
20 features in all. The reference is 100,000 baseline rows; the current window is written as a
prediction log (one hour of Parquet files in the predictor's layout) and read back by the job, so
its time includes reading it. Plain Evidently gets both frames in memory.
One run per cell, on a shared machine: the numbers are indicative, and `uptime` is recorded.

    python -m benchmarks.drift.run [--sizes 10000 100000 1000000] [--compare-rows 1000000]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from benchmarks.drift.data import CATEGORICAL, NUMERICAL, frame, write_window
from monitoring.drift import drift_of_window
from monitoring.drift_compute import compute_drift
from monitoring.window import DEFAULT_SAMPLE_ROWS, iter_window, read_window
from usecases.fraud import data as fraud_data

REFERENCE_ROWS = 100_000
REFERENCE_SAMPLE = 50_000  # what monitoring/reference.py keeps per model version
SCENARIOS = ["normal", *fraud_data.SCENARIOS]
RESULTS = Path(__file__).with_name("results.md")
EXACT: dict[str, list[str]] = {}  # run -> inputs decided on every row (sampled score near the threshold)
HOUR = datetime(2026, 11, 24, 10, tzinfo=UTC)


def ours(reference: pd.DataFrame, log_dir: Path, rows: int, report: Path) -> tuple[dict[str, bool], float, float]:
    """Decisions and wall time of one job run, then the peak traced memory of a second run.

    tracemalloc slows Python allocations down, so the timed run is not traced.
    """
    def run():
        window = read_window(log_dir, since=HOUR, sample_rows=DEFAULT_SAMPLE_ROWS)
        drift, exact = drift_of_window(reference, NUMERICAL, CATEGORICAL, window, window.rows,
                                       lambda columns: iter_window(log_dir, columns, segments=window.segments), report)
        EXACT[report.stem] = exact
        return drift

    started = time.perf_counter()
    drift = run()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return {f.feature: f.drifted for f in drift.features}, seconds, peak


def plain(reference: pd.DataFrame, current: pd.DataFrame) -> tuple[dict[str, bool], float]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=NUMERICAL, categorical_columns=CATEGORICAL)
    started = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(Dataset.from_pandas(current, data_definition=definition),
                                               Dataset.from_pandas(reference, data_definition=definition))
    seconds = time.perf_counter() - started
    # Decisions by column name from the typed config; distance methods drift at score >= threshold.
    decisions = {m["config"]["column"]: float(m["value"]) >= float(m["config"]["threshold"])
                 for m in snapshot.dict()["metrics"] if m["config"]["type"].endswith(":ValueDrift")}
    return decisions, seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--compare-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    reference_full = frame(REFERENCE_ROWS, 7, None)
    reference = reference_full.sample(REFERENCE_SAMPLE, random_state=0)
    compute_drift(reference.head(2000), reference.head(2000), NUMERICAL, CATEGORICAL)  # imports, once
    lines = [f"# Drift benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)", "",
             f"`uptime` at start: `{subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}`",
             "", "One run per cell on a shared 2-core machine; other engineers' tests may have been running.",
             f"Reference: {REFERENCE_ROWS:,} baseline rows (the job uses its cached {REFERENCE_SAMPLE:,}-row "
             f"snapshot); 20 features; the job samples {DEFAULT_SAMPLE_ROWS:,} rows of the window and writes "
             "the HTML report.", "",
             "## Time and memory by window size (scenario amount_inflation)", "",
             "| rows | job s (read log + Evidently + HTML) | job peak traced MiB | plain DataDriftPreset s "
             "| same decisions | decided on all rows |",
             "|---:|---:|---:|---:|:---:|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.sizes:
            current = frame(rows, 8, "amount_inflation")
            log_dir = Path(tmp) / f"log-{rows}"
            write_window(log_dir, rows, HOUR, seed=8, scenario="amount_inflation", chunk_rows=rows)
            mine, seconds, peak = ours(reference, log_dir, rows, Path(tmp) / f"report-{rows}.html")
            theirs, plain_seconds = plain(reference_full, current)
            lines.append(f"| {rows:,} | {seconds:.2f} | {peak:.0f} | {plain_seconds:.2f} | "
                         f"{'yes' if mine == theirs else 'NO'} | {', '.join(EXACT[f'report-{rows}']) or '-'} |")
            print(lines[-1], flush=True)
            del current
        lines += ["", f"## Per-feature decisions on the named scenarios ({args.compare_rows:,} rows)", "",
                  "| scenario | declared shift | job drifted | plain drifted | same | decided on all rows |",
                  "|---|---|---|---|:---:|---|"]
        for scenario in SCENARIOS:
            current = frame(args.compare_rows, 9, scenario)
            log_dir = Path(tmp) / f"log-{scenario}"
            write_window(log_dir, args.compare_rows, HOUR, seed=9, scenario=scenario, chunk_rows=args.compare_rows)
            mine, _, _ = ours(reference, log_dir, args.compare_rows, Path(tmp) / f"report-{scenario}.html")
            theirs, _ = plain(reference_full, current)
            declared = ", ".join(fraud_data.SCENARIOS.get(scenario, ("", ()))[1]) or "none"
            lines.append(f"| {scenario} | {declared} | {', '.join(c for c, d in mine.items() if d) or 'none'} | "
                         f"{', '.join(c for c, d in theirs.items() if d) or 'none'} | "
                         f"{'yes' if mine == theirs else 'NO'} | {', '.join(EXACT[f'report-{scenario}']) or '-'} |")
            print(lines[-1], flush=True)
            del current
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
