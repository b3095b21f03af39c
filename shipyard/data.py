"""Where generated data lives, and writing it there."""

from __future__ import annotations

from pathlib import Path

from shipyard import features
from shipyard.settings import Settings
from shipyard.usecase import UseCase


def events_path(settings: Settings, scenario: str | None = None) -> Path:
    name = "transactions.parquet" if scenario is None else f"traffic-{scenario}.parquet"
    return settings.data_dir / name


def generate(settings: Settings, use_case: UseCase, rows: int, seed: int, scenario: str | None) -> Path:
    """The baseline (labelled history + offline feature table), or post-baseline traffic of a scenario."""
    settings.ensure_dirs()
    events = use_case.generate(rows, seed, scenario)
    path = events_path(settings, scenario)
    events.to_parquet(path, index=False)
    if scenario is None:
        features.write_offline_table(settings, use_case.build_features(events))
    return path
