"""The drift job on the trained platform: each named scenario, late labels, bad logs, bounded windows."""

import dataclasses
from pathlib import Path

import pandas as pd
import pytest
from prometheus_client import generate_latest

from monitoring.drift import report_name, run_drift_job
from monitoring.exporter import DriftMetrics
from monitoring.reference import load_reference, snapshot_path
from monitoring.service import run_once
from shipyard import data, registry
from tests.monitoring.logged_traffic import SEED, logged_rows, write_log
from usecases.fraud import USE_CASE

pytestmark = pytest.mark.integration
WINDOW = 3_000  # a realistic window: noise of unshifted features stays well under the 0.1 threshold


def log_traffic(settings, scenario: str, rows: int = WINDOW) -> pd.DataFrame:
    events = USE_CASE.generate(rows, SEED, scenario)
    write_log(settings, logged_rows(settings, USE_CASE, events))
    return events


def drifted(result) -> list[str]:
    return [f.feature for f in result.features if f.drifted]


@pytest.fixture
def labels_file(tmp_path):
    return tmp_path / "labels.parquet"


def test_normal_traffic_drifts_nowhere_and_joins_late_labels(use_trained_home, labels_file):
    events = log_traffic(use_trained_home, "normal")
    events.to_parquet(labels_file)
    result = run_drift_job(use_trained_home, USE_CASE, WINDOW, label_files=[labels_file])
    assert result.window_rows == WINDOW and result.model_version == 1 and result.skipped == {}
    assert drifted(result) == [] and result.drift_share == 0.0
    assert [f.feature for f in result.features] == ["amount", "merchant_category", "hour", "txn_count_7d",
                                                    "avg_amount_7d", "max_amount_7d"]
    assert not result.prediction_drift.drifted and not result.target_drift.drifted
    arrived = int((events["label_available_at"] <= pd.Timestamp.now(tz="UTC")).sum())
    assert 0 < arrived < WINDOW  # some chargebacks are still to come
    assert result.quality.labelled_rows == arrived and result.quality.roc_auc > 0.8
    report = open(result.report_path).read()
    assert result.report_path.endswith(".html") and "amount" in report


def test_failed_requests_in_the_log_are_not_predictions(use_trained_home, labels_file):
    """Records of failed requests (status 4xx/5xx, no score) sit among the predictions; the drift job and
    its quality metrics see only the answered ones, however odd the failed requests' inputs."""
    events = USE_CASE.generate(WINDOW, SEED, "normal")
    events.to_parquet(labels_file)
    answered = logged_rows(use_trained_home, USE_CASE, events).assign(status=200)
    failed = answered.sample(1_000, random_state=1).assign(
        status=503, error="online feature store unavailable", score=None, amount=900_000.0, hour=23,
        merchant_category="refused", txn_count_7d=None, avg_amount_7d=None, max_amount_7d=None)
    failed["request_id"] = [f"failed-{i}" for i in range(len(failed))]
    write_log(use_trained_home, pd.concat([answered, failed]).sample(frac=1.0, random_state=2))
    result = run_drift_job(use_trained_home, USE_CASE, WINDOW + len(failed), label_files=[labels_file])
    assert drifted(result) == [] and not result.prediction_drift.drifted
    assert result.window_rows == WINDOW and result.sampled_rows == WINDOW
    assert result.quality.roc_auc > 0.8


@pytest.mark.parametrize("scenario", ["amount_inflation", "merchant_mix_shift", "fraud_pattern_shift"])
def test_a_scenario_drifts_exactly_its_declared_columns(use_trained_home, scenario):
    log_traffic(use_trained_home, scenario)
    result = run_drift_job(use_trained_home, USE_CASE, WINDOW)
    declared = USE_CASE.scenario(scenario).shifted_columns
    assert sorted(drifted(result)) == sorted(declared)
    assert result.drift_share == pytest.approx(len(declared) / 6) and not result.dataset_drift
    assert result.quality is None and result.target_drift is None  # no labels joined: nothing to claim


def test_card_testing_attack_also_shows_as_target_drift_once_labels_arrive(use_trained_home, labels_file):
    events = log_traffic(use_trained_home, "fraud_pattern_shift")
    events.to_parquet(labels_file)
    shifted = run_drift_job(use_trained_home, USE_CASE, WINDOW, label_files=[labels_file])
    assert sorted(drifted(shifted)) == ["amount", "hour"]
    assert shifted.target_drift.drifted  # fraud rate 1.5% -> 12% among the labels that have arrived
    assert shifted.quality.labelled_rows > 0


def test_by_default_the_late_labels_come_from_the_traffic_where_the_world_writes_it(use_trained_home, tmp_path):
    """The monitor is given no label files: it reads the generated traffic where `data.generate` puts it
    (under the offline store, here one of this test's own), so quality is measured in the live loop."""
    events = log_traffic(use_trained_home, "fraud_pattern_shift")
    settings = dataclasses.replace(use_trained_home, offline_store_uri=str(tmp_path / "offline"))
    assert data.generate(settings, USE_CASE, WINDOW, SEED, "fraud_pattern_shift") == \
        settings.offline_store_path / "data" / "traffic-fraud_pattern_shift.parquet"
    result = run_drift_job(settings, USE_CASE, WINDOW)
    arrived = int((events["label_available_at"] <= pd.Timestamp.now(tz="UTC")).sum())
    assert result.quality is not None and result.quality.labelled_rows == arrived > 0
    assert result.target_drift.drifted


def test_a_large_window_is_sampled_with_the_same_decisions(use_trained_home):
    log_traffic(use_trained_home, "amount_inflation", rows=6_000)
    full = run_drift_job(use_trained_home, USE_CASE, 6_000)
    sampled = run_drift_job(use_trained_home, USE_CASE, 6_000, sample_rows=1_500)
    assert sampled.sampled_rows == 1_500 and sampled.window_rows == full.window_rows == 6_000
    assert drifted(sampled) == drifted(full) == ["amount"]
    for mine, theirs in zip(sampled.features, full.features, strict=True):
        assert abs(mine.score - theirs.score) < 0.05, (mine, theirs)


def test_the_reference_is_prepared_once_per_version(use_trained_home, trained_home):
    log_traffic(use_trained_home, "normal", rows=500)
    run_drift_job(use_trained_home, USE_CASE, 500)
    snapshot = snapshot_path(trained_home, "fraud", 1, registry.run_id(trained_home, "fraud", 1))
    built = snapshot.stat().st_mtime_ns
    run_drift_job(use_trained_home, USE_CASE, 500)
    assert snapshot.stat().st_mtime_ns == built


def test_a_reference_left_by_another_registrys_version_1_is_not_read(use_trained_home, trained_home):
    """A fresh MLflow registry numbers its first model 1 again: the cache is keyed by the version's run."""
    earlier = snapshot_path(trained_home, "fraud", 1, "run-of-an-earlier-registry")
    earlier.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"amount": [1.0], "score": [0.5]}).to_parquet(earlier)
    reference = load_reference(use_trained_home, USE_CASE, 1)
    # Built from the real run: every model input, many rows (the planted frame has one row, two columns).
    assert len(reference.frame) > 1 and set(reference.columns) <= set(reference.frame.columns)


def test_bad_logs_count_errors_and_keep_the_last_good_values(use_trained_home):
    metrics = DriftMetrics()
    assert not run_once(use_trained_home, USE_CASE, metrics, 500)  # empty log
    log_traffic(use_trained_home, "amount_inflation", rows=1_000)
    assert run_once(use_trained_home, USE_CASE, metrics, 1_000)
    # A predictor that stopped logging `hour` and logs `max_amount_7d` as null, with an unseen category.
    rows = logged_rows(use_trained_home, USE_CASE, USE_CASE.generate(1_000, SEED, "normal"))
    rows = rows.drop(columns=["hour"]).assign(max_amount_7d=None)
    rows.loc[rows.index[:50], "merchant_category"] = "crypto"
    write_log(use_trained_home, rows)
    assert run_once(use_trained_home, USE_CASE, metrics, 1_000)
    body = generate_latest(metrics.registry).decode()
    assert 'shipyard_drift_runs_total{model="fraud",status="error",version="1"} 1.0' in body
    assert 'shipyard_drift_runs_total{model="fraud",status="success",version="1"} 2.0' in body
    assert 'shipyard_drift_column_errors_total{feature="hour",model="fraud",version="1"} 1.0' in body
    assert 'shipyard_drift_column_errors_total{feature="max_amount_7d",model="fraud",version="1"} 1.0' in body
    assert 'shipyard_drift_column_errors_total{feature="amount",model="fraud",version="1"} 0.0' in body
    # `hour` could not be compared this time: it keeps the value of the last run that could.
    assert 'shipyard_feature_drifted{feature="amount",model="fraud",version="1"} 0.0' in body
    assert 'shipyard_feature_drift_score{feature="hour",model="fraud",version="1"}' in body


def test_runs_finishing_in_the_same_second_get_reports_of_their_own():
    """The timing that made the next test fail once in CI: two results within one second must not share a file."""
    from datetime import UTC, datetime

    first, second = (datetime(2026, 11, 30, 5, 54, 48, micro, tzinfo=UTC) for micro in (120_000, 870_000))
    assert report_name("fraud", 1, first) != report_name("fraud", 1, second)
    assert report_name("fraud", 1, first).startswith("drift-fraud-v1-20261130T055448")


def test_a_report_is_written_only_when_the_result_changes(use_trained_home):
    reports = use_trained_home.reports_dir
    log_traffic(use_trained_home, "normal", rows=1_000)
    first = run_drift_job(use_trained_home, USE_CASE, 1_000)
    before = set(reports.glob("drift-*.html"))
    again = run_drift_job(use_trained_home, USE_CASE, 1_000)
    assert again.report_path == first.report_path and set(reports.glob("drift-*.html")) == before
    log_traffic(use_trained_home, "amount_inflation", rows=1_000)
    changed = run_drift_job(use_trained_home, USE_CASE, 1_000)
    assert [f.feature for f in changed.features if f.drifted] == ["amount"]
    assert changed.report_path != first.report_path and set(reports.glob("drift-*.html")) - before == {
        Path(changed.report_path)}


def test_a_time_window_reads_only_its_hours_of_a_long_history(use_trained_home):
    now = pd.Timestamp.now(tz="UTC")
    events = USE_CASE.generate(2_000, SEED, "amount_inflation")
    old = logged_rows(use_trained_home, USE_CASE, events)
    for days in (3, 2, 1):  # shifted traffic in the history: read, it would show as drift
        write_log(use_trained_home, old.assign(timestamp=(now - pd.Timedelta(days=days)).isoformat()))
    log_traffic(use_trained_home, "normal", rows=1_000)
    result = run_drift_job(use_trained_home, USE_CASE, since=(now - pd.Timedelta(minutes=30)).to_pydatetime())
    assert result.window_rows == 1_000 and drifted(result) == []
    assert result.log_files_read == 1 and result.log_rows_read == 1_000
