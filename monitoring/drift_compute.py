"""Evidently drift of one window of predictions against the reference: features, score and label.

Effect-size methods at every window size (Wasserstein distance normed by the reference's standard
deviation for numbers, Jensen-Shannon distance for categories, drift above 0.1). Evidently's
default for windows under 1,000 rows are p-value tests, which assume independent rows; a
prediction log repeats each customer's features across their requests, so those tests raise false
alarms on unshifted features. Effect sizes also do not shrink with the sample, so sampling a large
window (monitoring/window.py) keeps Evidently's decisions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

DATASET_DRIFT_SHARE = 0.5  # Evidently's default: the dataset drifts when half its features do
NUMERICAL_METHOD, CATEGORICAL_METHOD, DRIFT_THRESHOLD = "wasserstein", "jensenshannon", 0.1
# A 20,000-row sample estimates a score within about +-0.012 of the full window's (benchmarks/drift):
# decisions closer than this to the threshold are made again on every row of the window.
MARGINAL_SCORE = 0.02


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    score: float
    method: str
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class DriftComputation:
    features: list[FeatureDrift]  # model inputs Evidently could compare
    drift_share: float
    dataset_drift: bool
    prediction: FeatureDrift | None = None
    target: FeatureDrift | None = None
    skipped: dict[str, str] = field(default_factory=dict)  # column -> why it was not compared
    snapshot: object = field(default=None, compare=False, repr=False)  # Evidently's, for the HTML report


def unusable_reason(column: str, reference: pd.DataFrame, current: pd.DataFrame) -> str | None:
    """Why a column cannot be compared (missing, or no values in one of the datasets), else None."""
    for name, frame in (("current", current), ("reference", reference)):
        if column not in frame.columns:
            return f"missing_in_{name}"
        if frame[column].notna().sum() == 0:
            return f"empty_in_{name}"
    return None


def _prepared(frame: pd.DataFrame, numerical: list[str], categorical: list[str]) -> pd.DataFrame:
    # Log rows are JSON: a number may arrive as text and a category as a number; unseen categories
    # are kept (Jensen-Shannon counts them as mass the reference does not have).
    data = {c: pd.to_numeric(frame[c], errors="coerce").astype(float) for c in numerical}
    data |= {c: frame[c].astype("string").astype(object).where(frame[c].notna()) for c in categorical}
    return pd.DataFrame(data, index=frame.index)


def compute_drift(reference: pd.DataFrame, current: pd.DataFrame, numerical: list[str], categorical: list[str],
                  report_path: Path | None = None, *, prediction: str | None = None,
                  target: str | None = None, numerical_target: bool = False) -> DriftComputation:
    """Evidently's per-column decisions, the share of drifted inputs, and score and label drift.

    The label is compared as a class, or as a number with ``numerical_target`` (a regression's).

    Columns that cannot be compared are left out and named in ``skipped``; the rest still run.
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import DriftedColumnsCount

    skipped = {}
    for column in [*numerical, *categorical, *(c for c in (prediction, target) if c)]:
        if (reason := unusable_reason(column, reference, current)) is not None:
            skipped[column] = reason
    inputs_num = [c for c in numerical if c not in skipped]
    inputs_cat = [c for c in categorical if c not in skipped]
    if not inputs_num and not inputs_cat:
        raise ValueError(f"no model input can be compared: {skipped}")
    target_kept = [target] if target and target not in skipped else []
    extra_num = ([prediction] if prediction and prediction not in skipped else []) + (
        target_kept if numerical_target else [])
    extra_cat = [] if numerical_target else target_kept  # a classification's label is a class
    all_num, all_cat = [*inputs_num, *extra_num], [*inputs_cat, *extra_cat]
    definition = DataDefinition(numerical_columns=all_num, categorical_columns=all_cat)
    per_column = {c: _value_drift(c, c in all_cat) for c in [*all_num, *all_cat]}
    # The share decides each column with the configured methods too (Evidently's defaults would pick
    # p-value tests for small references, and the share would disagree with the per-feature decisions).
    share_metric = DriftedColumnsCount(columns=[*inputs_num, *inputs_cat], drift_share=DATASET_DRIFT_SHARE,
                                       num_method=NUMERICAL_METHOD, cat_method=CATEGORICAL_METHOD,
                                       threshold=DRIFT_THRESHOLD)
    report = Report([share_metric, *per_column.values()], include_tests=True)
    snapshot = report.run(Dataset.from_pandas(_prepared(current, all_num, all_cat), data_definition=definition),
                          Dataset.from_pandas(_prepared(reference, all_num, all_cat), data_definition=definition))
    results = {c: _decision(snapshot, c, metric) for c, metric in per_column.items()}
    share = float(snapshot.context.get_metric_result(share_metric).share.value)
    features = [results[c] for c in [*numerical, *categorical] if c in results]
    drift = DriftComputation(features, share, share >= DATASET_DRIFT_SHARE, results.get(prediction),
                             results.get(target), skipped, snapshot)
    if report_path is not None:
        save_report(drift, report_path)
    return drift


def save_report(drift: DriftComputation, path: Path) -> None:
    """Evidently's HTML report of the sampled comparison (a few MB: written only when asked)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    drift.snapshot.save_html(str(temporary))
    temporary.replace(path)  # the monitor never serves a half-written report


def marginal_columns(drift: DriftComputation, margin: float = MARGINAL_SCORE) -> list[str]:
    """Inputs whose sampled score is too close to the threshold to trust the sample's decision."""
    return [f.feature for f in drift.features if abs(f.score - f.threshold) < margin]


def with_exact_scores(drift: DriftComputation, scores: dict[str, float]) -> DriftComputation:
    """``drift`` with some inputs decided on their score over every row, the share recomputed.

    The method and threshold stay those Evidently resolved; like its distance tests, a score at or
    above the threshold is drift.
    """
    features = [FeatureDrift(f.feature, scores[f.feature], f.method, f.threshold, scores[f.feature] >= f.threshold)
                if f.feature in scores else f for f in drift.features]
    share = sum(f.drifted for f in features) / len(features)
    return DriftComputation(features, share, share >= DATASET_DRIFT_SHARE, drift.prediction, drift.target,
                            drift.skipped, drift.snapshot)


def _value_drift(column: str, categorical: bool):
    from evidently.metrics import ValueDrift

    return ValueDrift(column=column, threshold=DRIFT_THRESHOLD,
                      method=CATEGORICAL_METHOD if categorical else NUMERICAL_METHOD)


def _decision(snapshot, column: str, metric) -> FeatureDrift:
    from evidently.core.metric_types import TestStatus

    value = snapshot.context.get_metric_result(metric)
    (test,) = [t for t in value.tests if t.id == "drift"]
    # Read the method and threshold Evidently resolved, not the ones we asked for.
    params = snapshot.context.get_metric(metric.metric_id).to_metric_config().params
    return FeatureDrift(column, float(value.value), str(params["method"]), float(params["threshold"]),
                        test.status == TestStatus.FAIL)
