"""The closed loop with the demo's own functions, on a small world in a fresh SHIPYARD_HOME.

Without drift, retraining promotes nothing. The summary prints every path whole. (Retraining after
each use case's demo scenario, and drift per scenario: tests/e2e/test_use_case_loops.py; two
`shipyard demo` runs in a row: tests/e2e/test_demo_command.py.)
"""

import io
import re
from types import SimpleNamespace

import pandas as pd
import pytest
from rich.console import Console

from shipyard import data
from shipyard.settings import Settings
from shipyard.usecase import load_use_case
from shipyard_cli import demo
from shipyard_cli.summary import print_summary

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROWS, TRAFFIC = 20_000, 1_500
FAST = {"max_iter": 100, "min_roc_auc": 0.7}  # a small world: lighter model, same gate
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
