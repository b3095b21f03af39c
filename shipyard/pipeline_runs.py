"""Run pipelines locally and report what they did, read back from the MLflow registry."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from shipyard import registry
from shipyard.data import events_path
from shipyard.settings import Settings
from shipyard.usecase import load_use_case


@dataclass(frozen=True)
class TrainingOutcome:
    model_name: str
    version: int
    champion_version: int | None
    metrics: dict[str, float]
    gate: str
    log_path: Path

    @property
    def promoted(self) -> bool:
        return self.version == self.champion_version

    def describe(self) -> str:
        verdict = "champion" if self.promoted else "not promoted"
        return (f"registered {self.model_name} version {self.version} ({verdict}): {self.gate}; "
                f"roc_auc={self.metrics.get('roc_auc', float('nan')):.4f} "
                f"pr_auc={self.metrics.get('pr_auc', float('nan')):.4f}")


def run_training(settings: Settings, events: Path | None = None, **parameters) -> TrainingOutcome:
    from pipelines.local import run_locally
    from pipelines.training import training_pipeline

    use_case = load_use_case(settings.use_case)
    events = events or events_path(settings)
    if not events.exists():
        raise FileNotFoundError(f"no events at {events}: run `shipyard data generate` first")
    settings.ensure_dirs()
    log_path = settings.home / "logs" / "training-pipeline.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # Components run as subprocesses that read the same settings from the environment.
    os.environ.setdefault("SHIPYARD_HOME", str(settings.home))
    task = run_locally(training_pipeline, settings.pipeline_root, log_path=log_path,
                       events_path=str(events), **parameters)
    version = int(task.output)
    client = registry.client(settings)
    model_version = client.get_model_version(use_case.model_name, str(version))
    metrics = client.get_run(model_version.run_id).data.metrics
    try:
        champion = registry.resolve_version(settings, use_case.model_name)
    except LookupError:
        champion = None
    return TrainingOutcome(use_case.model_name, version, champion, metrics,
                           model_version.tags.get("shipyard.gate", ""), log_path)
