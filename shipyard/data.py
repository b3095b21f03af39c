"""Where generated data lives, and writing it there."""

from __future__ import annotations

from pathlib import Path

from shipyard import features
from shipyard.settings import Settings
from shipyard.usecase import UseCase


def events_path(settings: Settings, scenario: str | None = None) -> Path:
    """Under the offline store, so every process that reaches it (a pipeline pod, the monitor's
    retraining) reads the same events, whatever its own home holds."""
    name = "transactions.parquet" if scenario is None else f"traffic-{scenario}.parquet"
    return settings.offline_store_path / "data" / name


def generate(settings: Settings, use_case: UseCase, rows: int, seed: int, scenario: str | None) -> Path:
    """The baseline (labelled history + offline feature table), or post-baseline traffic of a scenario."""
    settings.ensure_dirs()
    events = use_case.generate(rows, seed, scenario)
    path = events_path(settings, scenario)
    path.parent.mkdir(parents=True, exist_ok=True)
    events.to_parquet(path, index=False)
    if scenario is None:
        features.write_offline_table(settings, use_case.build_features(events))
    return path
