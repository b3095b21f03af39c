"""`make bench-scale`: the training pipeline's steps at 1M, 3M and 10M generated events.

    python -m benchmarks.scale.run [--sizes 1000000 3000000 10000000] [--memory-cap-gib 8]

Each step runs in its own process (benchmarks/scale/steps.py), one after the other, and is measured
for wall time and peak RSS (benchmarks/scale/measure.py). A step that fails or is stopped at the
memory cap is recorded as such, and the steps that need its output are skipped. Results:
benchmarks/scale/results.json (every run, merged by size), results.md and two PNG plots.
State lives under build/bench-scale/ (git-ignored), removed per size unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

from benchmarks.scale import report
from benchmarks.scale.measure import GIB, StepResult, run_step

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
# What each step needs from the steps before it. The pipeline's steps are build, validate, train,
# evaluate and register; train_in_memory and evaluate_in_memory are the side comparison (the whole
# training set in pandas), run up to --in-memory-max-rows.
NEEDS = {
    "generate": [],
    "materialize_local": ["generate"],
    "materialize_redis": ["generate"],  # the production online store (PostgreSQL + Redis on this machine)
    "build": ["generate"],
    "validate": ["build", "materialize_local"],
    "train": ["build"],
    "evaluate": ["train"],
    "register": ["evaluate"],
    "train_in_memory": ["build"],
    "evaluate_in_memory": ["train_in_memory"],
}
IN_MEMORY = ("train_in_memory", "evaluate_in_memory")


def run_size(rows: int, work: Path, steps: list[str], memory_cap: int, timeout: float,
             in_memory_max_rows: int) -> list:
    work.mkdir(parents=True, exist_ok=True)
    env = {"SHIPYARD_HOME": str(work / "home"), "SHIPYARD_PROFILE": "local",
           "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false", "PYTHONPATH": str(ROOT)}
    # A step not in this run was done by an earlier one (--keep): its output is in the state folder.
    done: dict[str, str] = {step: "ok" for step in NEEDS if step not in steps}
    results = []
    for step in steps:
        missing = [n for n in NEEDS[step] if done.get(n) != "ok"]
        if step in IN_MEMORY and rows > in_memory_max_rows:
            result = StepResult(step, rows, 0.0, 0, "skipped", os.getloadavg()[0],
                                error=f"the in-memory path is compared up to {in_memory_max_rows:,} events")
        elif missing:
            result = StepResult(step, rows, 0.0, 0, "skipped", os.getloadavg()[0],
                                error=f"needs {', '.join(missing)}")
        else:
            result = run_step(step, rows, ["--work", str(work), "--rows", str(rows)], env,
                              work / "logs" / f"{step}.log", memory_cap, timeout)
        done[step] = result.status
        results.append(result)
        print(f"{rows:>10,} {step:<18} {result.status:<7} {result.seconds:8.1f} s {result.peak_gib:6.2f} GiB "
              f"{result.detail or ''} {result.error}", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 3_000_000, 10_000_000])
    parser.add_argument("--steps", nargs="+", default=list(NEEDS), choices=list(NEEDS))
    parser.add_argument("--memory-cap-gib", type=float, default=8.0,
                        help="stop a step whose process tree grows past this (the machine is shared)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="stop a step after this many seconds")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "bench-scale")
    parser.add_argument("--keep", action="store_true", help="keep each size's state folder")
    parser.add_argument("--in-memory-max-rows", type=int, default=3_000_000,
                        help="largest size at which the in-memory training path runs too (for the comparison)")
    args = parser.parse_args()
    store = HERE / "results.json"
    recorded = json.loads(store.read_text()) if store.exists() else {}
    for rows in args.sizes:
        work = args.work / f"rows-{rows}"
        if "generate" in args.steps:
            shutil.rmtree(work, ignore_errors=True)
        before = os.getloadavg()
        results = run_size(rows, work, args.steps, int(args.memory_cap_gib * GIB), args.timeout,
                           args.in_memory_max_rows)
        recorded = json.loads(store.read_text()) if store.exists() else {}  # another run may have written
        earlier = {r["step"]: r for r in recorded.get(str(rows), {}).get("results", [])}
        earlier.update({r.step: r.as_dict() for r in results})
        recorded[str(rows)] = {"load_before": before, "load_after": os.getloadavg(),
                               "memory_cap_gib": args.memory_cap_gib,
                               "results": [earlier[s] for s in NEEDS if s in earlier]}
        store.write_text(json.dumps(recorded, indent=1, default=str))
        report.write(recorded, HERE)  # after each size: a run stopped later still leaves its figures
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"wrote {HERE / 'results.md'}")


if __name__ == "__main__":
    main()
