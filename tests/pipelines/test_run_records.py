"""Idempotency keys and the outcome a triggered run leaves behind."""

import threading
from pathlib import Path

import pytest

from pipelines.run_records import RunRecords
from pipelines.runs import TrainingOutcome

pytestmark = pytest.mark.unit


def outcome(**changes) -> TrainingOutcome:
    values = dict(model_name="fraud", version=4, champion_version=3, metrics={"roc_auc": 0.91, "pr_auc": 0.4},
                  gate="rejected, champion unchanged: roc_auc worse", log_path=Path("logs/x.log"),
                  pipeline="retraining", validation_report=Path("kfp/run/validate-op/report"), reason="drift",
                  idempotency_key="alert-1")
    return TrainingOutcome(**{**values, **changes})


def test_outcome_survives_a_record_round_trip():
    original = outcome()
    assert TrainingOutcome.from_record(original.to_record()) == original
    assert not original.promoted and original.challenger_version == 4
    assert "not promoted; champion stays version 3" in original.describe()


def test_failed_and_submitted_runs_describe_themselves():
    failed = outcome(version=None, status="failed", error="data validation failed: nulls: column 'x' has 3 nulls")
    assert failed.describe() == ("retraining pipeline failed: data validation failed: nulls: column 'x' has 3 nulls;"
                                 " report: kfp/run/validate-op/report")
    assert "KFP run abc" in outcome(version=None, status="submitted", run_id="abc").describe()


def test_a_key_is_claimed_once_and_remembers_its_record(tmp_path):
    records = RunRecords(tmp_path)
    with records.claim("alert-1") as previous:
        assert previous is None
        records.save("alert-1", {"status": "succeeded", "version": 4})
    with records.claim("alert-1") as previous:
        assert previous == {"status": "succeeded", "version": 4, "idempotency_key": "alert-1"}
    with records.claim("alert-2") as previous:
        assert previous is None


def test_concurrent_deliveries_of_one_key_start_one_run(tmp_path):
    records = RunRecords(tmp_path)
    started, inside = [], threading.Event()

    def deliver():
        with records.claim("alert-9") as previous:
            if previous is None:
                started.append(threading.current_thread().name)
                inside.wait(0.2)  # the second delivery arrives while the first runs
                records.save("alert-9", {"status": "succeeded"})

    threads = [threading.Thread(target=deliver, name=f"d{i}") for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(started) == 1


def test_an_empty_key_is_refused(tmp_path):
    with pytest.raises(ValueError, match="idempotency_key must be a non-empty string"):
        RunRecords(tmp_path).get("  ")


def test_retraining_refuses_unknown_parameters_without_using_the_key(shipyard_home):
    from pipelines.runs import run_retraining

    with pytest.raises(ValueError, match="no parameters max_depth"):
        run_retraining(shipyard_home, reason="drift", idempotency_key="alert-5", max_depth=3)
    assert RunRecords(shipyard_home.home / "runs" / "retraining").get("alert-5") is None
    with pytest.raises(ValueError, match="needs a reason"):
        run_retraining(shipyard_home, reason=" ", idempotency_key="alert-5")
