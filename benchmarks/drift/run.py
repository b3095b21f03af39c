"""`make bench-drift`: the drift job against a plain Evidently DataDriftPreset run on the same data.

Data: the fraud generator's request columns (amount, hour, merchant_category, which the named
scenarios shift) plus 17 unshifted columns, 20 features in all. The reference is 100,000 baseline
rows; the current window is written as a prediction log (hourly JSON-lines files) and read back by
the job, so its time includes reading the window. Plain Evidently gets both frames in memory.
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

import numpy as np
import orjson
import pandas as pd

from monitoring.drift import drift_of_window
from monitoring.drift_compute import compute_drift
from monitoring.window import DEFAULT_SAMPLE_ROWS, read_columns, read_window
from usecases.fraud import data as fraud_data

REFERENCE_ROWS = 100_000
REFERENCE_SAMPLE = 50_000  # what monitoring/reference.py keeps per model version
EXTRA_NUMERICAL = [f"num_{i:02d}" for i in range(14)]
EXTRA_CATEGORICAL = ["channel", "country", "device"]
NUMERICAL = ["amount", "hour", *EXTRA_NUMERICAL]
CATEGORICAL = ["merchant_category", *EXTRA_CATEGORICAL]
SCENARIOS = ["normal", *fraud_data.SCENARIOS]
RESULTS = Path(__file__).with_name("results.md")
EXACT: dict[str, list[str]] = {}  # run -> inputs decided on every row (sampled score near the threshold)


def frame(rows: int, seed: int, scenario: str | None) -> pd.DataFrame:
    """Generator columns plus unshifted extra columns drawn from fixed distributions."""
    base = fraud_data.generate_transactions(rows, seed, scenario)[["amount", "hour", "merchant_category"]]
    rng = np.random.default_rng([seed, rows, 99])
    extra = {name: (rng.lognormal(1 + i % 3, 0.5, rows) if i % 2 else rng.normal(i, 1 + i % 4, rows))
             for i, name in enumerate(EXTRA_NUMERICAL)}
    extra |= {name: rng.choice(["a", "b", "c", "d", "e"][: 3 + i], rows) for i, name in enumerate(EXTRA_CATEGORICAL)}
    return pd.concat([base.reset_index(drop=True), pd.DataFrame(extra)], axis=1)


def write_log(current: pd.DataFrame, directory: Path) -> None:
    """The window as the predictor logs it: one JSON object per line."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).isoformat()
    with open(directory / f"predictions-{datetime.now(UTC):%Y%m%dT%H}.jsonl", "wb") as out:
        for start in range(0, len(current), 100_000):
            chunk = current.iloc[start:start + 100_000].assign(timestamp=now, model_version=1)
            out.write(b"".join(orjson.dumps(r, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n"
                               for r in chunk.to_dict("records")))


def ours(reference: pd.DataFrame, log_dir: Path, rows: int, report: Path) -> tuple[dict[str, bool], float, float]:
    """Decisions and wall time of one job run, then the peak traced memory of a second run.

    tracemalloc slows Python allocations down, so the timed run is not traced.
    """
    def run():
        window = read_window(log_dir, last_rows=rows, sample_rows=DEFAULT_SAMPLE_ROWS)
        drift, exact = drift_of_window(reference, NUMERICAL, CATEGORICAL, window, window.rows,
                                       lambda columns: read_columns(log_dir, columns, last_rows=rows), report)
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
            write_log(current, log_dir)
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
            write_log(current, log_dir)
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
