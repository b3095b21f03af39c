"""Run the training pipelines and report what they did, read back from the MLflow registry.

``run_training`` runs the training pipeline locally (kfp.local). ``run_retraining`` is what
monitoring calls: the same pipeline with a trigger, a reason and an idempotency key, locally without a
KFP host, else submitted to ``settings.kfp_host``; one run per idempotency key, ever. Both pass the
pipeline only the parameters their caller gave: the defaults are the pipeline's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from shipyard import registry
from shipyard.settings import Settings
from shipyard.usecase import load_use_case

HEADLINE = ("roc_auc", "pr_auc")  # a classifier's metrics in one line
REGRESSION_HEADLINE = ("mae", "rmse", "p90_absolute_error")


@dataclass(frozen=True)
class TrainingOutcome:
    model_name: str
    version: int | None  # the registered candidate (None when the run failed before registering)
    champion_version: int | None  # the champion after the run
    metrics: dict[str, float]  # headline metrics of the candidate on the holdout
    gate: str  # the gate's decision and why
    log_path: Path
    status: str = "succeeded"  # succeeded | failed | submitted (to a KFP server) | running
    pipeline: str = "training"
    previous_champion: int | None = None
    validation_report: Path | None = None
    run_id: str | None = None  # the KFP run id
    reason: str | None = None  # why retraining was asked for
    idempotency_key: str | None = None
    error: str | None = None
    segment_metrics: dict[str, float] | None = None  # per value of each categorical input ("col.value.metric")
    decision: str | None = None  # the gate's: promoted | rejected | equal
    windows: dict[str, str] | None = None  # as_of, training_window, evaluation_window, data_snapshot
    promotion: str | None = None  # what the promote step did in Git (pushed, already pinned, would commit)

    @property
    def promoted(self) -> bool:
        return self.version is not None and self.version == self.champion_version

    @property
    def challenger_version(self) -> int | None:
        return self.version

    def describe(self) -> str:
        if self.status == "failed":
            report = f"; report: {self.validation_report}" if self.validation_report else ""
            return f"{self.pipeline} pipeline failed: {self.error}{report}"
        if self.status in ("submitted", "running"):
            return f"{self.pipeline} pipeline {self.status}: KFP run {self.run_id or 'unknown'}"
        verdict = "champion" if self.promoted else f"not promoted; champion stays version {self.champion_version}"
        headline = REGRESSION_HEADLINE if "mae" in self.metrics and "roc_auc" not in self.metrics else HEADLINE
        shown = " ".join(f"{name}={self.metrics.get(name, float('nan')):.4f}" for name in headline)
        return f"registered {self.model_name} version {self.version} ({verdict}): {self.gate}; {shown}"

    def to_record(self) -> dict:
        return {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_record(cls, record: dict) -> TrainingOutcome:
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in record.items() if k in names}
        for key in ("log_path", "validation_report"):
            values[key] = Path(values[key]) if values.get(key) else None
        return cls(**values)


class PipelineFailed(ValueError):
    """A pipeline run stopped on a step's error (data validation, usually); the outcome says where."""

    def __init__(self, outcome: TrainingOutcome):
        super().__init__(outcome.describe())
        self.outcome = outcome


def run_training(settings: Settings, **parameters) -> TrainingOutcome:
    """Run the training pipeline locally; raises PipelineFailed (with the report) when a step fails."""
    _check_parameters(parameters)
    outcome = _run_local(settings, "training", parameters)
    if outcome.status == "failed":
        raise PipelineFailed(outcome)
    return outcome


def run_retraining(settings: Settings, *, reason: str, idempotency_key: str, **parameters) -> TrainingOutcome:
    """Retrain through the champion gate, once per ``idempotency_key`` (later calls get the first outcome).

    Locally (no ``settings.kfp_host``) the run happens here and its outcome, failed or not, is
    recorded; with a KFP host the pipeline is submitted and the KFP run id recorded.
    """
    from pipelines.run_records import RunRecords

    if not reason.strip():
        raise ValueError("retraining needs a reason (e.g. the alert that triggered it)")
    _check_parameters(parameters)  # refused before the key is claimed, so a typo does not use up the key
    records = RunRecords(settings.home / "runs" / "retraining")
    with records.claim(idempotency_key) as previous:
        if previous is not None:
            return TrainingOutcome.from_record(previous)
        use_case = load_use_case(settings.use_case)
        started = TrainingOutcome(use_case.model_name, None, None, {}, "", settings.home / "logs", status="running",
                                  pipeline="retraining", reason=reason, idempotency_key=idempotency_key)
        records.save(idempotency_key, started.to_record())  # a crash mid-run must not allow a second run
        arguments = {"trigger": "retraining", "reason": reason, "idempotency_key": idempotency_key, **parameters}
        try:
            if settings.kfp_host:
                outcome = _submit_retraining(settings, started, arguments)
            else:
                outcome = _run_local(settings, "retraining", arguments)
        except Exception as exc:  # recorded, so the key never starts a second run, then re-raised
            records.save(idempotency_key, dataclasses.replace(started, status="failed", error=str(exc)).to_record())
            raise
        records.save(idempotency_key, outcome.to_record())
        return outcome


def recorded_retraining(settings: Settings, idempotency_key: str) -> TrainingOutcome | None:
    """What the retraining started with ``idempotency_key`` did (None if no run was started with it)."""
    from pipelines.run_records import RunRecords

    record = RunRecords(settings.home / "runs" / "retraining").get(idempotency_key)
    return None if record is None else TrainingOutcome.from_record(record)


def _submit_retraining(settings: Settings, started: TrainingOutcome, arguments: dict) -> TrainingOutcome:
    import tempfile

    from pipelines.compile import compile_pipeline
    from pipelines.submit import submit

    with tempfile.TemporaryDirectory() as tmp:
        package = compile_pipeline("training", Path(tmp))
        run_id = submit(settings.kfp_host, package, arguments, experiment=f"{started.model_name}-retraining",
                        run_name=f"retraining-{started.idempotency_key}"[:100])
    return dataclasses.replace(started, status="submitted", run_id=run_id)


def _check_parameters(parameters: dict) -> None:
    from pipelines.training import training_pipeline

    unknown = set(parameters) - set(training_pipeline.component_spec.inputs)
    if unknown:
        raise ValueError(f"the training pipeline has no parameters {', '.join(sorted(unknown))}")


def _run_local(settings: Settings, name: str, parameters: dict) -> TrainingOutcome:
    from components.lineage import WINDOW_KEYS, git_commit
    from pipelines.local import (
        VALIDATION_REPORT,
        newest_artifact,
        run_dirs,
        run_locally,
        step_failure,
        validation_failure,
    )
    from pipelines.training import training_pipeline
    from shipyard import data

    use_case = load_use_case(settings.use_case)
    if data.newest_label_time(settings) is None:
        raise FileNotFoundError(f"no labelled events in the offline store {settings.offline_store_uri}: "
                                "run `shipyard data generate` first")
    settings.ensure_dirs()
    log_path = settings.home / "logs" / f"{name}-pipeline.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    parameters.setdefault("git_commit", git_commit())
    previous = registry.alias_version(settings, use_case.model_name, registry.CHAMPION)
    before = run_dirs(settings.pipeline_root)
    base = TrainingOutcome(use_case.model_name, None, previous, {}, "", log_path, pipeline=name,
                           previous_champion=previous, reason=parameters.get("reason"),
                           idempotency_key=parameters.get("idempotency_key"))
    try:
        # The steps run as subprocesses with the pipeline's settings, as the manifests give them to pods.
        task = run_locally(training_pipeline, settings.pipeline_root, log_path=log_path,
                           environment=settings.environment("pipeline"), **parameters)
    except RuntimeError as exc:
        report = newest_artifact(settings.pipeline_root, before, VALIDATION_REPORT)
        return dataclasses.replace(base, status="failed", validation_report=report,
                                   error=validation_failure(report) or step_failure(exc, log_path))
    version = int(task.output)
    client = registry.client(settings)
    model_version = client.get_model_version(use_case.model_name, str(version))
    run_metrics = client.get_run(model_version.run_id).data.metrics
    return dataclasses.replace(
        base, version=version, champion_version=registry.alias_version(settings, use_case.model_name,
                                                                       registry.CHAMPION),
        metrics={k: v for k, v in run_metrics.items() if "." not in k},
        segment_metrics={k: v for k, v in run_metrics.items() if "." in k},
        gate=model_version.tags.get("shipyard.gate", ""), promotion=model_version.tags.get("shipyard.promotion"),
        decision=model_version.tags.get("shipyard.gate.decision"),
        windows={k: model_version.tags[f"shipyard.{k}"] for k in WINDOW_KEYS if f"shipyard.{k}" in model_version.tags},
        validation_report=newest_artifact(settings.pipeline_root, before, VALIDATION_REPORT),
        run_id=model_version.tags.get("shipyard.kfp_run_id"))


@dataclass(frozen=True)
class ScoringOutcome:
    rows: int
    model_name: str
    model_version: int
    output: Path

    def describe(self) -> str:
        return f"scored {self.rows} rows with {self.model_name} version {self.model_version}: {self.output}"


def run_batch_scoring(settings: Settings, customers: Path, output: Path, model_version: int = 0) -> ScoringOutcome:
    """Run the batch-scoring pipeline locally and copy its scores to ``output``."""
    import shutil

    import pandas as pd

    from components.lineage import data_snapshot
    from pipelines.batch_scoring import batch_scoring_pipeline
    from pipelines.local import SCORES, newest_artifact, run_dirs, run_locally

    if not customers.exists():
        raise FileNotFoundError(f"no table to score at {customers}")
    settings.ensure_dirs()
    before = run_dirs(settings.pipeline_root)
    log_path = settings.home / "logs" / "batch-scoring-pipeline.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        task = run_locally(batch_scoring_pipeline, settings.pipeline_root, log_path=log_path,
                           environment=settings.environment("pipeline"),
                           customers_path=str(customers.resolve()), data_snapshot=data_snapshot(customers),
                           model_version=model_version)
    except RuntimeError as exc:
        raise RuntimeError(f"batch scoring failed: see {log_path}") from exc
    scores = newest_artifact(settings.pipeline_root, before, SCORES)
    output.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(scores, output)
    rows = len(pd.read_parquet(output, columns=["score"]))
    return ScoringOutcome(rows, load_use_case(settings.use_case).model_name, int(task.output), output)
