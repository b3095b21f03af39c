"""Every installed use case through the whole loop, with the demo's own functions, in a fresh home.

- **Drift, scenario by scenario.** A champion is trained on the baseline and served by a real
  predictor process. Normal traffic, then each named drift scenario's traffic, is replayed through it;
  the drift job over each window flags that scenario's shifted columns and none of the columns that
  only the other scenarios shift (normal traffic flags none of them). A scenario that shifts an
  online feature (not a request field) is checked after its traffic has reached the offline store and
  its features were recomputed and materialized, as they would be in production: until then the
  predictor serves the features of the past.
- **Retraining.** The use case's demo scenario degrades the champion; its traffic and late labels reach
  the offline store; retraining on the newest window beats the champion there, by a margin, and is
  promoted, with a new window, data snapshot and dataset digest. (Retraining without drift:
  tests/e2e/test_demo_loop.py; the gate's decision on a worse regression model:
  tests/pipelines/test_regression_pipeline.py.)
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import pytest
from rich.console import Console

from shipyard import data, features, registry
from shipyard.settings import Settings
from shipyard.usecase import UseCase, available_use_cases, load_use_case
from shipyard_cli import demo
from shipyard_cli.processes import free_port, start_predictor
from shipyard_cli.replay import replay, wait_until_logged

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROWS, TRAFFIC = 20_000, 1_500


@dataclass(frozen=True)
class Judged:
    """The gate's metric of a task, how far the demo scenario must degrade the champion on it, and how
    much retraining must win back (a share of the champion's value for an error, else metric units)."""

    metric: str
    higher_is_better: bool
    degraded_by: float
    regained_by: float
    relative: bool
    training: dict

    def beyond(self, margin: float, better: float, worse: float) -> bool:
        gain = (better - worse) if self.higher_is_better else (worse - better)
        return gain >= margin * (abs(worse) if self.relative else 1.0)


JUDGED = {
    "binary_classification": Judged("roc_auc", True, 0.1, 0.1, False, {"max_iter": 100, "min_roc_auc": 0.7}),
    # The MAE alert's margin (25%) for the damage; the gate's own tolerance (1%) for the gain: rides
    # twice as long are learnt from a few days of traffic only.
    "regression": Judged("mae", False, 0.25, 0.01, True, {"max_iter": 100}),
}
LOOP_TIMEOUT = pytest.mark.timeout(2400)  # pipeline runs of a process per step on a shared 2-core machine


@pytest.fixture(autouse=True)
def _one_openmp_thread(monkeypatch):
    """One OpenMP thread per training step: on a busy 2-core machine threads fight each other."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


@pytest.fixture
def home_of(shipyard_home, monkeypatch):
    """A fresh home whose use case is ``name``."""
    def select(name: str) -> tuple[Settings, UseCase]:
        monkeypatch.setenv("SHIPYARD_USE_CASE", name)
        settings = Settings.from_env()
        assert settings.use_case == name
        return settings, load_use_case(name)
    return select


def _quiet() -> Console:
    return Console(file=io.StringIO(), width=80)


def _train_champion(settings: Settings, use_case: UseCase, traffic_phases: list[str]) -> demo.DemoRun:
    run = demo.new_run(settings, use_case)
    judged = JUDGED[use_case.task]
    data.generate(settings, use_case, ROWS, demo.SEED, None)
    for phase in traffic_phases:
        data.generate(settings, use_case, TRAFFIC, demo.SEED, phase)
    features.apply(settings, use_case)
    features.materialize(settings)
    from pipelines.runs import run_training

    run.trained.append(run_training(settings, **judged.training))
    assert run.trained[0].promoted, run.trained[0].gate
    return run


def _feature_columns(settings: Settings, use_case: UseCase) -> set[str]:
    _, names = features.contract(features.feature_store(settings), use_case)
    return set(names)


@LOOP_TIMEOUT
@pytest.mark.parametrize("name", available_use_cases())
def test_drift_is_found_on_each_scenarios_columns_and_on_no_other(home_of, name):
    from monitoring.drift import run_drift_job

    settings, use_case = home_of(name)
    assert use_case.scenarios, f"{name} declares no drift scenario"
    watched = {c for s in use_case.scenarios.values() for c in s.shifted_columns}
    _train_champion(settings, use_case, ["normal", *use_case.scenarios])
    online = _feature_columns(settings, use_case)
    # Request-field scenarios first; a scenario shifting stored features needs its traffic ingested.
    in_request = [s for s in use_case.scenarios.values() if not set(s.shifted_columns) & online]
    in_features = [s for s in use_case.scenarios.values() if set(s.shifted_columns) & online]

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_predictor(port, settings.home / "logs" / "serve.log",
                             {"SHIPYARD_HOME": str(settings.home), "SHIPYARD_USE_CASE": name})
    flagged: dict[str, set[str]] = {}
    try:
        for phase in ["normal", *[s.name for s in in_request + in_features]]:
            if phase in {s.name for s in in_features}:
                data.ingest_scenario(settings, use_case, phase, demo.LABEL_WAIT)
                features.materialize(settings)
            onset = datetime.now(UTC)
            events = pd.read_parquet(data.events_path(settings, phase))
            stats = replay(url, events, use_case)
            assert stats.ok == len(events), f"{phase}: {stats.errors} of {len(events)} requests failed"
            wait_until_logged(settings.prediction_log_dir, stats.ok, onset)
            result = run_drift_job(settings, use_case, since=onset)
            assert result.window_rows == len(events), phase
            flagged[phase] = {f.feature for f in result.features if f.drifted} & watched
    finally:
        server.stop()
    expected = {"normal": set()} | {s.name: set(s.shifted_columns) for s in use_case.scenarios.values()}
    assert flagged == expected


@LOOP_TIMEOUT
@pytest.mark.parametrize("name", available_use_cases())
def test_retraining_after_the_demo_scenario_beats_the_degraded_champion(home_of, name):
    settings, use_case = home_of(name)
    scenario = use_case.demo_scenario
    assert scenario in use_case.scenarios, f"{name} names no demo scenario of its own"
    judged = JUDGED[use_case.task]
    run = _train_champion(settings, use_case, [scenario])
    demo.ingest_drifted(settings, use_case, _quiet(), run, scenario)
    demo.retrain(settings, _quiet(), run, scenario, **judged.training)
    demo.finish(settings, run)
    first, retrained = run.trained
    assert retrained.pipeline == "retraining" and retrained.decision == "promoted", retrained.gate
    assert run.champion_at_end == retrained.version == 2

    tags = registry.client(settings).get_model_version(use_case.model_name, "2").tags
    champion_recent = float(tags[f"shipyard.gate.champion_{judged.metric}"])  # v1 on v2's newest window
    challenger_recent = retrained.metrics[judged.metric]
    # The champion really degraded on the drifted window, and the challenger wins back by the margin.
    assert judged.beyond(judged.degraded_by, first.metrics[judged.metric], champion_recent), \
        (first.metrics, champion_recent)
    assert judged.beyond(judged.regained_by, challenger_recent, champion_recent), retrained.gate
    assert f"champion v1: {judged.metric} {champion_recent:.4f} -> {challenger_recent:.4f}" in retrained.gate

    # Lineage: another window, another content hash, another MLflow dataset digest.
    client = registry.client(settings)
    before, after = (client.get_model_version(use_case.model_name, v) for v in ("1", "2"))
    old_tags, new_tags = client.get_run(before.run_id).data.tags, client.get_run(after.run_id).data.tags
    assert new_tags["shipyard.training_window"] != old_tags["shipyard.training_window"]
    assert new_tags["shipyard.evaluation_window"] > old_tags["shipyard.evaluation_window"]
    assert new_tags["shipyard.data_snapshot"] != old_tags["shipyard.data_snapshot"]
    assert _dataset_digest(client, after.run_id) != _dataset_digest(client, before.run_id)
    # The newest window holds the drifted traffic the retrained model learnt from (the use case's own
    # label delay places it: weeks for chargebacks, a day for delivery times).
    traffic_start = pd.read_parquet(data.events_path(settings, scenario))[use_case.timestamp].min()
    assert pd.Timestamp(new_tags["shipyard.evaluation_window"].split("/")[1]) > traffic_start


def _dataset_digest(client, run_id: str) -> str:
    (dataset,) = [d.dataset for d in client.get_run(run_id).inputs.dataset_inputs
                  if any(t.value == "training" for t in d.tags)]
    return dataset.digest
