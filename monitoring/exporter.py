"""Prometheus metrics of the drift job (names in docs/contract.md and monitoring/prometheus/metrics.yaml)."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, write_to_textfile

from monitoring.drift import DriftResult
from monitoring.holdout import HoldoutError, HoldoutQuality
from monitoring.labels import Quality, RegressionQuality

MODEL = ["model", "version"]


class DriftMetrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.feature_score = Gauge("shipyard_feature_drift_score", "Evidently drift score per feature.",
                                   [*MODEL, "feature"], registry=r)
        self.feature_drifted = Gauge("shipyard_feature_drifted", "1 when Evidently finds the feature drifted.",
                                     [*MODEL, "feature"], registry=r)
        self.drift_share = Gauge("shipyard_drift_share", "Share of features that drifted.", MODEL, registry=r)
        self.dataset_drift = Gauge("shipyard_dataset_drift", "1 when the share of drifted features "
                                   "reaches the dataset drift threshold.", MODEL, registry=r)
        self.prediction_drift = Gauge("shipyard_prediction_drift_score", "Evidently drift score of the model's "
                                      "scores against its scores on the training data.", MODEL, registry=r)
        self.target_drift = Gauge("shipyard_target_drift_score", "Evidently drift score of the late labels "
                                  "against the training labels.", MODEL, registry=r)
        self.roc_auc = Gauge("shipyard_model_roc_auc", "ROC AUC on the window's labelled predictions.", MODEL,
                             registry=r)
        self.recall = Gauge("shipyard_model_recall", "Recall at the review rate on the labelled predictions.",
                            MODEL, registry=r)
        self.holdout_roc_auc = Gauge("shipyard_model_holdout_roc_auc", "ROC AUC of the served version on its "
                                     "holdout when it was trained (the level shipyard_model_roc_auc should keep).",
                                     MODEL, registry=r)
        self.holdout_recall = Gauge("shipyard_model_holdout_recall", "Recall at the review rate of the served "
                                    "version on its holdout when it was trained.", MODEL, registry=r)
        # A regressor's quality, in the label's unit (a classifier exports none of these, a regressor
        # none of the ROC AUC and recall series: each use case's alerts key on its own).
        self.mae = Gauge("shipyard_model_mae", "Mean absolute error on the window's labelled predictions "
                         "(the label's unit).", MODEL, registry=r)
        self.rmse = Gauge("shipyard_model_rmse", "Root mean squared error on the window's labelled predictions "
                          "(the label's unit).", MODEL, registry=r)
        self.p90_error = Gauge("shipyard_model_p90_absolute_error", "90th percentile of the absolute error on "
                               "the window's labelled predictions (the label's unit).", MODEL, registry=r)
        self.holdout_mae = Gauge("shipyard_model_holdout_mae", "Mean absolute error of the served version on its "
                                 "holdout when it was trained (the level shipyard_model_mae should keep).",
                                 MODEL, registry=r)
        self.labelled_rows = Gauge("shipyard_drift_labelled_rows", "Predictions of the window with a label.",
                                   MODEL, registry=r)
        self.window_rows = Gauge("shipyard_drift_window_rows", "Predictions in the compared window.", MODEL,
                                 registry=r)
        self.last_success = Gauge("shipyard_drift_last_success_timestamp_seconds",
                                  "When the drift job last succeeded (unix time).", MODEL, registry=r)
        self.duration = Gauge("shipyard_drift_run_duration_seconds", "Wall time of the last drift run.", MODEL,
                              registry=r)
        self.report = Gauge("shipyard_drift_report_info", "1 for the Evidently HTML report of the last run "
                            "(served by the monitor at /reports/<report>).", [*MODEL, "report"], registry=r)
        self.runs = Counter("shipyard_drift_runs", "Drift job runs by outcome.", [*MODEL, "status"], registry=r)
        # Why a column was skipped is in the run's JSON result and log; a reason label would leave
        # the series absent until the first error, and a dashboard or alert could not tell 0 from none.
        self.skipped = Counter("shipyard_drift_column_errors", "Columns a drift run could not compare "
                               "(missing or empty; their last good values are kept).", [*MODEL, "feature"],
                               registry=r)

    def record(self, result: DriftResult, duration_seconds: float | None = None) -> None:
        labels = {"model": result.model_name, "version": str(result.model_version)}
        for feature in result.features:
            self.feature_score.labels(**labels, feature=feature.feature).set(feature.score)
            self.feature_drifted.labels(**labels, feature=feature.feature).set(int(feature.drifted))
        for column in [f.feature for f in result.features] + list(result.skipped):
            counter = self.skipped.labels(**labels, feature=column)  # exported at 0 from the first run
            if column in result.skipped:
                counter.inc()
        self.drift_share.labels(**labels).set(result.drift_share)
        self.dataset_drift.labels(**labels).set(int(result.dataset_drift))
        if result.prediction_drift is not None:
            self.prediction_drift.labels(**labels).set(result.prediction_drift.score)
        if result.target_drift is not None:
            self.target_drift.labels(**labels).set(result.target_drift.score)
        quality = result.quality  # too few labels (None) keeps the last good values
        if isinstance(quality, Quality):
            self.roc_auc.labels(**labels).set(quality.roc_auc)
            self.recall.labels(**labels).set(quality.recall)
        elif isinstance(quality, RegressionQuality):
            self.mae.labels(**labels).set(quality.mae)
            self.rmse.labels(**labels).set(quality.rmse)
            self.p90_error.labels(**labels).set(quality.p90_absolute_error)
        if quality is not None:
            self.labelled_rows.labels(**labels).set(quality.labelled_rows)
        self.window_rows.labels(**labels).set(result.window_rows)
        if duration_seconds is not None:
            self.duration.labels(**labels).set(duration_seconds)
        self.report.clear()  # one report series at a time: the newest
        self.report.labels(**labels, report=Path(result.report_path).name).set(1)
        self.last_success.labels(**labels).set(result.finished_at)
        self.runs.labels(**labels, status="success").inc()

    def record_holdout(self, model_name: str, version: int, quality: HoldoutQuality | HoldoutError) -> None:
        labels = {"model": model_name, "version": str(version)}
        if isinstance(quality, HoldoutError):
            self.holdout_mae.labels(**labels).set(quality.mae)
            return
        self.holdout_roc_auc.labels(**labels).set(quality.roc_auc)
        self.holdout_recall.labels(**labels).set(quality.recall)

    def record_failure(self, model_name: str, version: str) -> None:
        self.runs.labels(model=model_name, version=version, status="error").inc()

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_to_textfile(str(path), self.registry)
