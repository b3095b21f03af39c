"""What the CLI and the demo report: the drift table, and the demo's summary.

The summary is plain lines printed without wrapping: a path is always whole on a line of its own
(indented under its label), whatever the terminal's width, and when piped it carries no ANSI codes
(rich only styles a terminal). Each fact is printed once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from monitoring.drift import DriftResult

if TYPE_CHECKING:
    from shipyard_cli.demo import DemoRun

HEADLINE = ("roc_auc", "pr_auc", "recall_at_alert_rate",  # a classifier's
            "mae", "rmse", "p90_absolute_error")  # a regression's (in the label's unit)


def drift_table(result: DriftResult, title: str | None = None) -> Table:
    table = Table(title=title or f"Drift of {result.model_name} v{result.model_version} "
                  f"({result.window_rows} predictions vs {result.reference_rows} training rows)")
    for column in ("feature", "method", "score", "threshold", "drifted"):
        table.add_column(column, justify="right" if column in ("score", "threshold") else "left")
    for f in result.features:
        table.add_row(f.feature, f.method, f"{f.score:.3f}", f"{f.threshold:.3f}",
                      "[red]yes[/red]" if f.drifted else "[green]no[/green]")
    table.caption = (f"share of drifted features {result.drift_share:.2f}; "
                     f"dataset drift: {'yes' if result.dataset_drift else 'no'}")
    return table


def _trained(outcome) -> list[str]:
    """One version trained in this run: why it was (not) promoted, its windows and its metrics."""
    trigger = outcome.pipeline + (f", reason: {outcome.reason}" if outcome.reason else "")
    if outcome.status != "succeeded" or outcome.version is None:
        return [f"  {trigger}: {outcome.describe()}"]
    windows = outcome.windows or {}
    metrics = ", ".join(f"{name} {outcome.metrics[name]:.4f}" for name in HEADLINE if name in outcome.metrics)
    lines = [f"  version {outcome.version} ({trigger}): {outcome.decision or 'no gate decision'}",
             f"    gate: {outcome.gate}",
             f"    training window {windows.get('training_window', '?')}",
             f"    evaluation window {windows.get('evaluation_window', '?')}: {metrics}",
             f"    data snapshot {windows.get('data_snapshot', '?')}"]
    return lines


def summary_lines(run: DemoRun) -> list[str]:
    trained_now = {o.version for o in run.trained if o.version is not None}
    champion = "none" if run.champion_at_end is None else f"{run.model_name} version {run.champion_at_end}"
    if run.champion_at_end in trained_now:
        champion += " (trained in this run)"
    lines = [f"Shipyard demo summary (run {run.started_at})", f"champion at the end: {champion}"]
    if run.served_version is not None:
        lines.append(f"served during the replay: version {run.served_version} (a predictor started now serves "
                     "the champion)")
    lines.append("trained in this run:")
    for outcome in run.trained:
        lines += _trained(outcome)
    reports = [o.validation_report for o in run.trained if o.validation_report]
    if reports:
        lines += ["validation reports:", *[f"  {path}" for path in reports]]
    for phase in run.phases:
        if phase.stats is not None:
            lines.append(f"{phase.name} traffic: {phase.stats.ok}/{phase.stats.requests} answered, "
                         f"p50 {phase.stats.p50_ms:.1f} ms, p99 {phase.stats.p99_ms:.1f} ms")
        if phase.drift is not None:
            lines += [f"{phase.name} drift report:", f"  {phase.drift.report_path}"]
    if run.ingested is not None:
        lines += [f"offline store ({run.ingested.events} events, {run.ingested.labels} labels and "
                  f"{run.ingested.feature_rows} feature rows ingested up to {run.ingested.end.isoformat()}):",
                  f"  {run.offline_store}"]
    lines += ["MLflow UI:", f"  mlflow ui --backend-store-uri {run.mlflow_tracking_uri}"]
    if run.metrics_file is not None:
        lines += ["drift metrics (live: shipyard monitor serve --port 9108):", f"  {run.metrics_file}"]
    if run.scraped:
        lines += ["scraped /metrics:", *[f"  {line}" for line in run.scraped]]
    if run.prediction_log is not None:
        lines += ["prediction log:", f"  {run.prediction_log}"]
    if run.loop is not None:
        lines.append(f"alert loop: {run.loop.alert} firing {run.loop.seconds_to_firing:.0f}s after drift onset; "
                     f"retraining {run.loop.idempotency_key} started {run.loop.seconds_to_retraining:.0f}s after it")
    return lines


def print_summary(console: Console, run: DemoRun) -> None:
    for line in summary_lines(run):
        # No wrapping (a path stays whole and copyable), no markup or highlighting inside values.
        console.print(line, soft_wrap=True, markup=False, highlight=False)
