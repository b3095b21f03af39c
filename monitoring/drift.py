"""The drift job: one window of the prediction log against the served version's reference.

Per run: retention of old logs and reports (monitoring/retention.py), a bounded sample of the
window (monitoring/window.py), the version's cached reference snapshot (monitoring/reference.py),
late labels where they have arrived (monitoring/labels.py),
Evidently's decisions (monitoring/drift_compute.py), inputs near the threshold decided again on
every row of the window in streamed chunks (monitoring/exact_drift.py), and an HTML report named
in the result. A report is written only when the decisions differ from the previous run's: an
unchanged window keeps pointing at the report that first showed its result.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from monitoring.drift_compute import (
    DriftComputation,
    FeatureDrift,
    compute_drift,
    marginal_columns,
    save_report,
    with_exact_scores,
)
from monitoring.exact_drift import exact_scores
from monitoring.labels import (
    Quality,
    RegressionQuality,
    join_labels,
    load_label_feed,
    model_quality,
    quality_from_dict,
    regression_quality,
)
from monitoring.reference import SCORE, load_reference
from monitoring.retention import apply_retention
from monitoring.window import DEFAULT_SAMPLE_ROWS, WindowSample, answered, iter_window, read_window
from shipyard import data, registry
from shipyard.settings import Settings
from shipyard.usecase import UseCase

__all__ = ["DriftComputation", "DriftResult", "FeatureDrift", "compute_drift", "run_drift_job"]
MIN_WINDOW_ROWS = 2
LATEST = "drift-latest.json"
logger = logging.getLogger(__name__)


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
    quality: Quality | RegressionQuality | None = None  # the use case's kind: classes or errors
    skipped: dict[str, str] = field(default_factory=dict)  # column -> reason it was not compared
    exact_columns: list[str] = field(default_factory=list)  # decided on every row, not the sample
    log_files_read: int = 0  # prediction-log files whose data this run read
    log_rows_read: int = 0  # rows decoded from them (files outside the window are never opened)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> DriftResult:
        raw = json.loads(text)
        raw["features"] = [FeatureDrift(**f) for f in raw["features"]]
        for name in ("prediction_drift", "target_drift"):
            raw[name] = FeatureDrift(**raw[name]) if raw.get(name) else None
        raw["quality"] = quality_from_dict(raw["quality"]) if raw.get("quality") else None
        return cls(**raw)


def report_name(model_name: str, version: int, finished: datetime) -> str:
    """The HTML report of a run, derivable from its exported success timestamp.

    Milliseconds in the name: two runs in one second with different results must not share a report.
    """
    return f"drift-{model_name}-v{version}-{finished:%Y%m%dT%H%M%S}{finished.microsecond // 1000:03d}.html"


def decisions(result: DriftResult) -> tuple:
    """What a report shows that matters: which columns drifted, and which could not be compared."""
    def flag(drift: FeatureDrift | None) -> bool | None:
        return None if drift is None else drift.drifted

    return (result.model_name, result.model_version, tuple((f.feature, f.drifted) for f in result.features),
            result.dataset_drift, flag(result.prediction_drift), flag(result.target_drift),
            tuple(sorted(result.skipped)))


def previous_result(reports_dir: Path) -> DriftResult | None:
    try:
        return DriftResult.from_json((reports_dir / LATEST).read_text())
    except (OSError, ValueError, TypeError, KeyError):
        return None  # first run, or a result written by an older version: write a report


def retain(settings: Settings) -> None:
    """Retention before each run; the report the last result names is kept whatever its age."""
    previous = previous_result(settings.reports_dir)
    try:
        apply_retention(settings.prediction_log_dir, settings.reports_dir, settings.retention_days,
                        keep=previous.report_path if previous else None)
    except OSError as exc:  # tried again on the next run; drift must not wait for it
        logger.warning("retention failed: %s", exc)


def drift_of_window(reference: pd.DataFrame, numerical: list[str], categorical: list[str], window: WindowSample,
                    current: pd.DataFrame, read_full: Callable[[list[str]], Iterable[pd.DataFrame]],
                    report_path: Path | None = None, **extra: str | bool | None) -> tuple[DriftComputation, list[str]]:
    """Evidently on the sample; inputs whose score is too close to the threshold, again on all rows.

    ``read_full(columns)`` streams those columns of every row of the window in chunks.
    """
    drift = compute_drift(reference, current, numerical, categorical, report_path, **extra)
    exact = marginal_columns(drift) if window.window_rows > len(window.rows) else []
    if exact:
        scores = exact_scores(reference, read_full, [c for c in numerical if c in exact],
                              [c for c in categorical if c in exact],
                              thresholds={f.feature: f.threshold for f in drift.features})
        drift = with_exact_scores(drift, {column: score for column, (score, _) in scores.items()})
    return drift, exact


def run_drift_job(settings: Settings, use_case: UseCase, window_rows: int | None = None, *,
                  since: datetime | None = None, sample_rows: int = DEFAULT_SAMPLE_ROWS,
                  label_files: list[Path] | None = None) -> DriftResult:
    """Drift of the newest ``window_rows`` predictions (or those since ``since``) of the served version.

    Late labels come from ``label_files`` (default: the generated traffic, under the offline store).
    """
    version = registry.resolve_version(settings, use_case.model_name)
    log = settings.prediction_log_dir
    retain(settings)
    window = read_window(log, last_rows=window_rows, since=since, sample_rows=sample_rows)
    stats = window.stats
    # Predictions of the served version only: not other versions', nor the records of failed requests.
    current = answered(window.rows, version if "model_version" in window.rows.columns else None)
    if len(current) < MIN_WINDOW_ROWS:
        raise LookupError(f"the prediction log holds {len(current)} predictions of {use_case.model_name} "
                         f"version {version}: nothing to compare yet")
    reference = load_reference(settings, use_case, version)
    now = datetime.now(UTC)
    if label_files is None:
        label_files = data.traffic_paths(settings)
    feed = load_label_feed(label_files, use_case.label, use_case.event_id)
    current = join_labels(current, feed, use_case.label, pd.Timestamp(now), use_case.event_id,
                          use_case.is_regression)
    labelled = current[current[use_case.label].notna()]

    def read_full(columns: list[str]) -> Iterator[pd.DataFrame]:
        return iter_window(log, columns, stats=stats, segments=window.segments, model_version=version,
                           answered_only=True)

    drift, exact = drift_of_window(reference.frame, reference.numerical, reference.categorical, window, current,
                                   read_full, prediction=SCORE, target=use_case.label if len(labelled) else None,
                                   numerical_target=use_case.is_regression)
    quality_of = regression_quality if use_case.is_regression else model_quality
    quality = quality_of(current[SCORE], current[use_case.label]) if SCORE in current.columns else None
    # The window's size, scaled from the sample when other versions' rows were dropped from it.
    window_size = round(window.window_rows * len(current) / max(len(window.rows), 1))
    features = sorted(drift.features, key=lambda f: reference.columns.index(f.feature))  # signature order
    report_path = settings.reports_dir / report_name(use_case.model_name, version, now)
    result = DriftResult(use_case.model_name, version, window_size, reference.rows, features,
                         drift.drift_share, drift.dataset_drift, str(report_path), now.timestamp(),
                         sampled_rows=len(current), prediction_drift=drift.prediction,
                         target_drift=drift.target, quality=quality, skipped=drift.skipped, exact_columns=exact,
                         log_files_read=stats.files, log_rows_read=stats.rows)
    previous = previous_result(settings.reports_dir)
    if previous is not None and decisions(previous) == decisions(result) and Path(previous.report_path).is_file():
        result = replace(result, report_path=previous.report_path)  # same result: its report still holds
    else:
        save_report(drift, report_path)
    latest = settings.reports_dir / LATEST
    latest.parent.mkdir(parents=True, exist_ok=True)
    latest.with_suffix(".tmp").write_text(result.to_json())
    latest.with_suffix(".tmp").replace(latest)
    return result
