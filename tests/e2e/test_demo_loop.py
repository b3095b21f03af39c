"""The closed loop with the demo's own functions, on a small world in a fresh SHIPYARD_HOME.

The champion is trained on the baseline; a card-testing attack (fraud_pattern_shift) changes how fraud
looks; its traffic and late labels reach the offline store; retraining on the newest window beats the
degraded champion and is promoted. Without drift the same retraining promotes nothing. The summary
prints every path whole. (Two `shipyard demo` runs in a row: tests/e2e/test_demo_command.py.)
"""

import io
import re
from types import SimpleNamespace

import pandas as pd
import pytest
from rich.console import Console

from shipyard import data, registry
from shipyard.settings import Settings
from shipyard.usecase import load_use_case
from shipyard_cli import demo
from shipyard_cli.summary import print_summary

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROWS, TRAFFIC = 20_000, 1_500
FAST = {"max_iter": 100, "min_roc_auc": 0.7}  # a small world: lighter model, same gate
MARGIN = 0.1  # ROC AUC on the newest window: retrained challenger over the degraded champion, at least
# Two kfp.local pipeline runs (each starts a process per step) plus data generation: longer than the
# suite's default per-test limit on a shared 2-core machine.
TWO_PIPELINES = pytest.mark.timeout(2400)


@pytest.fixture(autouse=True)
def _one_openmp_thread(monkeypatch):
    """The pipeline steps' scikit-learn training spins OpenMP threads; on a busy 2-core machine they
    fight each other. One thread per step changes the speed, not what is trained or compared."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def _run(settings: Settings, scenario: str, console: Console, *, retrain: bool = True) -> demo.DemoRun:
    use_case = load_use_case(settings.use_case)
    run = demo.DemoRun("test", use_case.model_name, settings.home, mlflow_tracking_uri=settings.mlflow_tracking_uri,
                       prediction_log=settings.prediction_log_dir, offline_store=settings.offline_store_uri)
    demo.prepare(settings, use_case, console, run, rows=ROWS, traffic=TRAFFIC, scenario=scenario, **FAST)
    if retrain:
        demo.ingest_drifted(settings, use_case, console, run, scenario)
        demo.retrain(settings, console, run, scenario, **FAST)
    demo.finish(settings, run)
    return run


def _quiet() -> Console:
    return Console(file=io.StringIO(), width=80)


def _dataset_digest(client, run_id: str) -> str:
    (dataset,) = [d.dataset for d in client.get_run(run_id).inputs.dataset_inputs
                  if any(t.value == "training" for t in d.tags)]
    return dataset.digest


@TWO_PIPELINES
def test_retraining_after_a_pattern_shift_beats_the_degraded_champion_and_is_promoted(shipyard_home):
    settings = shipyard_home
    run = _run(settings, "fraud_pattern_shift", _quiet())
    first, retrained = run.trained
    assert first.promoted and first.version == 1
    assert retrained.pipeline == "retraining" and retrained.decision == "promoted" and retrained.promoted
    assert run.champion_at_end == retrained.version == 2

    client = registry.client(settings)
    tags = client.get_model_version("fraud", "2").tags
    champion_recent = float(tags["shipyard.gate.champion_roc_auc"])  # v1 scored on v2's newest window
    challenger_recent = retrained.metrics["roc_auc"]
    assert challenger_recent - champion_recent >= MARGIN, retrained.gate
    assert champion_recent < first.metrics["roc_auc"] - MARGIN  # the champion really degraded
    assert f"champion v1: roc_auc {champion_recent:.4f} -> {challenger_recent:.4f}" in retrained.gate

    # Lineage: another window, another content hash, another MLflow dataset digest.
    before = client.get_model_version("fraud", "1")
    after = client.get_model_version("fraud", "2")
    old_tags, new_tags = client.get_run(before.run_id).data.tags, client.get_run(after.run_id).data.tags
    assert new_tags["shipyard.training_window"] != old_tags["shipyard.training_window"]
    assert new_tags["shipyard.evaluation_window"] > old_tags["shipyard.evaluation_window"]
    assert new_tags["shipyard.data_snapshot"] != old_tags["shipyard.data_snapshot"]
    assert _dataset_digest(client, after.run_id) != _dataset_digest(client, before.run_id)
    # The newest window holds the post-drift traffic the retrained model learnt from.
    assert new_tags["shipyard.evaluation_window"].split("/")[1] > "2026-10-19"


@TWO_PIPELINES
def test_retraining_without_drift_promotes_nothing(shipyard_home):
    settings = shipyard_home
    run = _run(settings, "normal", _quiet())
    first, retrained = run.trained
    assert retrained.status == "succeeded" and retrained.decision in ("equal", "rejected"), retrained.gate
    assert not retrained.promoted and run.champion_at_end == first.version == 1


def test_summary_prints_every_path_whole_at_80_columns_when_piped(tmp_path):
    """Rendered by the demo's printer into a pipe 80 columns wide: every path on one line, no ANSI."""
    deep = tmp_path / ("a-rather-long-folder-name-" * 4) / "home"
    settings = Settings.from_env({"SHIPYARD_HOME": str(deep)})
    run = demo.DemoRun("20261129T000000Z", "fraud", settings.home, mlflow_tracking_uri=settings.mlflow_tracking_uri,
                       prediction_log=settings.prediction_log_dir, offline_store=settings.offline_store_uri,
                       metrics_file=settings.reports_dir / "drift.prom",
                       ingested=data.Ingested(None, pd.Timestamp("2026-11-03", tz="UTC"), 10, 5, 3))
    report = settings.reports_dir / "drift-fraud-v1-20261129T000000Z.html"
    run.phases = [demo.Phase("fraud_pattern_shift", drift=SimpleNamespace(report_path=str(report)))]
    out = io.StringIO()
    print_summary(Console(file=out, width=80), run)
    text = out.getvalue()
    assert "\x1b[" not in text
    for path in (settings.prediction_log_dir, settings.offline_store_uri, settings.reports_dir / "drift.prom",
                 report):
        assert f"\n  {path}\n" in text
    assert re.search(r"mlflow ui --backend-store-uri sqlite:///\S+mlflow\.db\n", text)
    assert len(text.splitlines()) == len(set(text.splitlines()))  # each fact once
