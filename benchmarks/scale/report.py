"""results.md (one table per size, load averages) and the log-log plots of time and peak RSS."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from pathlib import Path

GIB = 1024**3
ROOT = Path(__file__).resolve().parents[2]
TARGET_GIB = 4.0


def _row(result: dict) -> str:
    detail = ", ".join(f"{k} {_short(v)}" for k, v in (result["detail"] or {}).items() if k != "violations")
    if result["status"] == "skipped":
        return f"| {result['step']} | skipped | | | | | {result['error'].replace(f'{ROOT}/', '')} |"
    peak = result["peak_rss_bytes"] / GIB
    over = " **> 4 GiB**" if peak > TARGET_GIB else ""
    note = "; ".join(x for x in (detail, result["error"]) if x).replace(f"{ROOT}/", "")
    cpu = f"{result['cpu_seconds']:.1f}" if result.get("cpu_seconds") else ""
    return (f"| {result['step']} | {result['status']} | {result['seconds']:.1f} | {cpu} | {peak:.2f}{over} | "
            f"{result['load_average']:.2f} | {note} |")


def _short(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


# The training pipeline's steps, as they run at every size (the in-memory training is measured
# beside them where --in-memory-max-rows allows, for the ROC AUC comparison).
PIPELINE = ("build", "validate", "train", "evaluate", "register")


def summary(recorded: dict) -> list[str]:
    """The figures the issue asks for: peak memory per size, time growth, holdout AUC at 1M."""
    from components.train_large import AUC_TOLERANCE

    lines = ["## Summary", "",
             "| events | pipeline steps: wall s (CPU s) | x the smallest size (wall / CPU) | largest peak RSS GiB "
             "(step) | holdout ROC AUC | in-memory vs pipeline ROC AUC |", "|---:|---:|---:|---:|---:|---|"]
    base = None
    for rows, run in sorted(recorded.items(), key=lambda item: int(item[0])):
        steps = {r["step"]: r for r in run["results"]}
        path = [steps[s] for s in PIPELINE if s in steps and steps[s]["status"] == "ok"]
        complete = len(path) == len(PIPELINE)
        wall = sum(r["seconds"] for r in path)
        cpu = sum(r.get("cpu_seconds", 0.0) for r in path)
        top = max(path, key=lambda r: r["peak_rss_bytes"], default=None)
        peak = f"{top['peak_rss_bytes'] / GIB:.2f} ({top['step']})" if top else ""
        if base is None and complete:
            base = (wall, cpu)
        growth = f"{wall / base[0]:.1f} / {cpu / base[1]:.1f}" if base and complete else ""
        auc = steps.get("evaluate", {}).get("detail", {}).get("roc_auc")
        compared = ""
        if steps.get("evaluate_in_memory", {}).get("status") == "ok" and auc is not None:
            full = steps["evaluate_in_memory"]["detail"]["roc_auc"]
            compared = (f"{full:.4f} vs {auc:.4f}: {full - auc:+.4f} "
                        f"({'within' if full - auc < AUC_TOLERANCE else 'OUTSIDE'} tolerance {AUC_TOLERANCE})")
        lines.append(f"| {int(rows):,} | {wall:.0f} ({cpu:.0f}){'' if complete else ' (incomplete)'} | {growth} | "
                     f"{peak} | {'' if auc is None else f'{auc:.4f}'} | {compared} |")
    lines += ["", f"Pipeline steps: {', '.join(PIPELINE)}, each the code its KFP component runs "
              "(benchmarks/scale/steps.py). `train_in_memory` / `evaluate_in_memory` fit the same model on the "
              "whole training set in pandas, for the ROC AUC comparison.", ""]
    return lines


def markdown(recorded: dict) -> str:
    lines = ["# Scale benchmark: the training pipeline's steps against the number of events", "",
             f"Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores, {platform.platform()}. "
             "Each step is its own process; peak RSS is its process tree's high-water mark. The machine is "
             "shared: the 1-minute load average at each step's start is in the table.", ""]
    lines += summary(recorded)
    for rows, run in sorted(recorded.items(), key=lambda item: int(item[0])):
        load_before = ", ".join(f"{x:.2f}" for x in run["load_before"])
        load_after = ", ".join(f"{x:.2f}" for x in run["load_after"])
        lines += [f"## {int(rows):,} events", "",
                  f"Load average before {load_before}, after {load_after}; memory cap "
                  f"{run['memory_cap_gib']:.0f} GiB (a step past it is stopped and shown as killed).", "",
                  "| step | status | wall s | CPU s | peak RSS GiB | load | detail |",
                  "|---|---|---:|---:|---:|---:|---|"]
        lines += [_row(r) for r in run["results"]]
        lines.append("")
    return "\n".join(lines)


def plot(recorded: dict, folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[str, list[tuple[int, float, float]]] = {}
    stopped: dict[str, list[tuple[int, float, float]]] = {}  # killed at the cap: a lower bound
    for rows, run in recorded.items():
        for r in run["results"]:
            if r["status"] in ("ok", "killed"):
                target = series if r["status"] == "ok" else stopped
                target.setdefault(r["step"], []).append((int(rows), r["seconds"], r["peak_rss_bytes"] / GIB))
    colours = plt.get_cmap("tab20")
    steps = sorted(set(series) | set(stopped))
    written = []
    for name, index, label in (("time", 1, "wall time (s)"), ("memory", 2, "peak RSS (GiB)")):
        figure, axes = plt.subplots(figsize=(9, 5))
        for number, step in enumerate(steps):
            colour = colours(number % 20)
            points = sorted(series.get(step, []))
            if points:
                axes.plot([p[0] for p in points], [p[index] for p in points], marker="o", color=colour, label=step)
            killed = sorted(stopped.get(step, []))
            if killed:
                axes.scatter([p[0] for p in killed], [p[index] for p in killed], marker="x", s=80, color=colour,
                             label=f"{step} (stopped at the memory cap)")
        if name == "memory":
            axes.axhline(TARGET_GIB, color="grey", linestyle="--", label="4 GiB target")
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("generated events")
        axes.set_ylabel(label)
        axes.set_title(f"Training pipeline steps: {label} against events")
        axes.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
        figure.tight_layout()
        path = folder / f"{name}.png"
        figure.savefig(path, dpi=100)
        plt.close(figure)
        written.append(path)
    return written


def write(recorded: dict, folder: Path) -> None:
    (folder / "results.md").write_text(markdown(recorded))
    plot(recorded, folder)
