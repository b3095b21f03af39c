"""Compare a window of the prediction log with the champion's training data using Evidently."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from components.serving.prediction_log import read_prediction_log
from shipyard import registry
from shipyard.settings import Settings
from shipyard.usecase import UseCase

DATASET_DRIFT_SHARE = 0.5  # Evidently's default: the dataset drifts when half its features do
# Effect-size methods at every window size. Evidently's default for windows under 1,000 rows are
# p-value tests, which assume independent rows; a prediction log repeats each customer's features
# across their requests, so those tests raise false alarms on unshifted features.
NUMERICAL_METHOD, CATEGORICAL_METHOD, DRIFT_THRESHOLD = "wasserstein", "jensenshannon", 0.1


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    score: float
    method: str
    threshold: float
    drifted: bool


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

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> DriftResult:
        raw = json.loads(text)
        raw["features"] = [FeatureDrift(**f) for f in raw["features"]]
        return cls(**raw)


def compute_drift(reference: pd.DataFrame, current: pd.DataFrame, numerical: list[str], categorical: list[str],
                  report_path: Path | None = None) -> tuple[list[FeatureDrift], float, bool]:
    """Evidently's per-column drift decisions, share of drifted columns and dataset drift flag."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.core.metric_types import TestStatus
    from evidently.metrics import DriftedColumnsCount, ValueDrift

    columns = [*numerical, *categorical]
    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    per_column = {column: ValueDrift(column=column, threshold=DRIFT_THRESHOLD,
                                     method=CATEGORICAL_METHOD if column in categorical else NUMERICAL_METHOD)
                  for column in columns}
    share_metric = DriftedColumnsCount(columns=columns, drift_share=DATASET_DRIFT_SHARE)
    report = Report([share_metric, *per_column.values()], include_tests=True)
    snapshot = report.run(Dataset.from_pandas(current[columns], data_definition=definition),
                          Dataset.from_pandas(reference[columns], data_definition=definition))
    results = []
    for column, metric in per_column.items():
        value = snapshot.context.get_metric_result(metric)
        (test,) = [t for t in value.tests if t.id == "drift"]
        # Evidently picks the method and threshold per column type and size; read what it resolved.
        params = snapshot.context.get_metric(metric.metric_id).to_metric_config().params
        results.append(FeatureDrift(column, float(value.value), str(params["method"]), float(params["threshold"]),
                                    test.status == TestStatus.FAIL))
    share = float(snapshot.context.get_metric_result(share_metric).share.value)
    if report_path is not None:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        snapshot.save_html(str(report_path))
    return results, share, share >= DATASET_DRIFT_SHARE


def run_drift_job(settings: Settings, use_case: UseCase, window_rows: int | None = None) -> DriftResult:
    """Drift of the newest ``window_rows`` predictions of the served version against its training data."""
    version = registry.resolve_version(settings, use_case.model_name)
    columns = registry.input_columns(settings, use_case.model_name, version)
    reference = registry.reference_data(settings, use_case.model_name, version,
                                        settings.home / "cache" / f"reference-v{version}")
    current = read_prediction_log(settings.prediction_log_dir)
    if not current.empty:
        current = current[current["model_version"] == version]
    if window_rows is not None:
        current = current.tail(window_rows)
    if len(current) < 2:
        raise ValueError(f"the prediction log holds {len(current)} predictions of {use_case.model_name} "
                         f"version {version}: nothing to compare yet")
    categorical = [c for c in columns if c in use_case.categorical_columns()]
    numerical = [c for c in columns if c not in categorical]
    stamp = datetime.now(UTC)
    report_path = settings.reports_dir / f"drift-{use_case.model_name}-v{version}-{stamp:%Y%m%dT%H%M%S}.html"
    drifts, share, dataset_drift = compute_drift(reference, current, numerical, categorical, report_path)
    result = DriftResult(use_case.model_name, version, len(current), len(reference), drifts, share,
                         dataset_drift, str(report_path), stamp.timestamp())
    (settings.reports_dir / "drift-latest.json").write_text(result.to_json())
    return result
