"""Rich tables for what the CLI and the demo report."""

from __future__ import annotations

from rich.table import Table

from monitoring.drift import DriftResult


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
