"""The drift job: one window of the prediction log against the served version's reference.

Per run: a bounded sample of the window (monitoring/window.py), the version's cached reference
snapshot (monitoring/reference.py), late labels where they have arrived (monitoring/labels.py),
Evidently's decisions (monitoring/drift_compute.py) and one HTML report, named in the result.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from monitoring.drift_compute import DriftComputation, FeatureDrift, compute_drift, marginal_columns, with_exact_columns
from monitoring.labels import Quality, join_labels, load_label_feed, model_quality
from monitoring.reference import SCORE, load_reference
from monitoring.window import DEFAULT_SAMPLE_ROWS, WindowSample, read_columns, read_window
from shipyard import registry
from shipyard.settings import Settings
from shipyard.usecase import UseCase

__all__ = ["DriftComputation", "DriftResult", "FeatureDrift", "compute_drift", "run_drift_job"]
MIN_WINDOW_ROWS = 2


@dataclass(frozen=True)
class DriftResult:
    model_name: str
    model_version: int
    window_rows: int
    reference_rows: int
    features: list[FeatureDrift]
    drift_share: float
    dataset_drift: bool
    report_path: str
    finished_at: float
    sampled_rows: int = 0
    prediction_drift: FeatureDrift | None = None
    target_drift: FeatureDrift | None = None
    quality: Quality | None = None
    skipped: dict[str, str] = field(default_factory=dict)  # column -> reason it was not compared
    exact_columns: list[str] = field(default_factory=list)  # decided on every row, not the sample

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> DriftResult:
        raw = json.loads(text)
        raw["features"] = [FeatureDrift(**f) for f in raw["features"]]
        for name in ("prediction_drift", "target_drift"):
            raw[name] = FeatureDrift(**raw[name]) if raw.get(name) else None
        raw["quality"] = Quality(**raw["quality"]) if raw.get("quality") else None
        return cls(**raw)


def report_name(model_name: str, version: int, finished: datetime) -> str:
    """The HTML report of a run, derivable from its exported success timestamp."""
    return f"drift-{model_name}-v{version}-{finished:%Y%m%dT%H%M%S}.html"


def drift_of_window(reference: pd.DataFrame, numerical: list[str], categorical: list[str], window: WindowSample,
                    current: pd.DataFrame, read_full: Callable[[list[str]], pd.DataFrame],
                    report_path: Path | None = None, **extra: str | None) -> tuple[DriftComputation, list[str]]:
    """Evidently on the sample; inputs whose score is too close to the threshold, again on all rows.

    ``read_full(columns)`` gives those columns for every row of the window (bounded: a few columns).
    """
    drift = compute_drift(reference, current, numerical, categorical, report_path, **extra)
    exact = marginal_columns(drift) if window.window_rows > len(window.rows) else []
    if exact:
        full = read_full(exact)
        drift = with_exact_columns(drift, compute_drift(reference, full, [c for c in numerical if c in exact],
                                                        [c for c in categorical if c in exact]))
    return drift, exact


def run_drift_job(settings: Settings, use_case: UseCase, window_rows: int | None = None, *,
                  since: datetime | None = None, sample_rows: int = DEFAULT_SAMPLE_ROWS,
                  label_files: list[Path] | None = None) -> DriftResult:
    """Drift of the newest ``window_rows`` predictions (or those since ``since``) of the served version.

    Late labels come from ``label_files`` (default: the generated traffic under the data directory).
    """
    version = registry.resolve_version(settings, use_case.model_name)
    window = read_window(settings.prediction_log_dir, last_rows=window_rows, since=since, sample_rows=sample_rows)
    current = window.rows
    if "model_version" in current.columns:
        current = current[pd.to_numeric(current["model_version"], errors="coerce") == version]
    if len(current) < MIN_WINDOW_ROWS:
        raise ValueError(f"the prediction log holds {len(current)} predictions of {use_case.model_name} "
                         f"version {version}: nothing to compare yet")
    reference = load_reference(settings, use_case, version)
    now = datetime.now(UTC)
    if label_files is None:
        label_files = sorted(settings.data_dir.glob("traffic-*.parquet"))
    feed = load_label_feed(label_files, use_case.label)
    current = join_labels(current, feed, use_case.label, pd.Timestamp(now))
    labelled = current[current[use_case.label].notna()]
    report_path = settings.reports_dir / report_name(use_case.model_name, version, now)
    def read_full(columns: list[str]) -> pd.DataFrame:
        full = read_columns(settings.prediction_log_dir, [*columns, "model_version"], last_rows=window_rows,
                            since=since)
        return full[pd.to_numeric(full["model_version"], errors="coerce") == version]

    drift, exact = drift_of_window(reference.frame, reference.numerical, reference.categorical, window, current,
                                   read_full, report_path, prediction=SCORE,
                                   target=use_case.label if len(labelled) else None)
    quality = model_quality(current[SCORE], current[use_case.label]) if SCORE in current.columns else None
    # The window's size, scaled from the sample when other versions' rows were dropped from it.
    window_size = round(window.window_rows * len(current) / max(len(window.rows), 1))
    features = sorted(drift.features, key=lambda f: reference.columns.index(f.feature))  # signature order
    result = DriftResult(use_case.model_name, version, window_size, reference.rows, features,
                         drift.drift_share, drift.dataset_drift, str(report_path), now.timestamp(),
                         sampled_rows=len(current), prediction_drift=drift.prediction,
                         target_drift=drift.target, quality=quality, skipped=drift.skipped, exact_columns=exact)
    (settings.reports_dir / "drift-latest.json").write_text(result.to_json())
    return result
