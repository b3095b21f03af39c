"""The training pipeline's steps at scale, one function each, run one per process by ``run.py``.

    python -m benchmarks.scale.steps STEP --work DIR --detail OUT.json

Each step calls the code the pipeline's KFP adapter calls (components/ops.py), with the pipeline's
defaults (pipelines/training.py): the offline store is the project's own (shipyard/data.py) under
``home/offline``, read by Feast's DuckDB offline store. State lives in ``DIR``: ``home/``
(SHIPYARD_HOME, set by the caller), ``train.parquet``, ``holdout.parquet``, ``reference.parquet``,
``summary.json`` (the build's summary, which later steps read as KFP artifact metadata) and models.
``train_in_memory`` and ``evaluate_in_memory`` are a side comparison: the whole training set in
pandas (the former train step), for the holdout ROC AUC the bounded training must stay close to.
"""

from __future__ import annotations

import argparse
import inspect
import json
from dataclasses import asdict
from pathlib import Path

SEED = 7


def pipeline_defaults() -> dict:
    """The training pipeline's parameter defaults: the benchmark runs what a plain run runs."""
    from pipelines.training import training_pipeline

    function = getattr(training_pipeline, "pipeline_func", training_pipeline)
    return {name: p.default for name, p in inspect.signature(function).parameters.items()}


def _context():
    from shipyard.settings import get_settings
    from shipyard.usecase import load_use_case

    settings = get_settings()
    return settings, load_use_case(settings.use_case)


def generate(work: Path, rows: int) -> dict:
    """Events, labels and feature tables in the offline store; Feast definitions applied; MLflow's database made."""
    from benchmarks.scale import layout
    from shipyard import features, registry

    settings, use_case = _context()
    settings.ensure_dirs()
    written = layout.write_store(settings, use_case, rows, SEED)
    features.apply(settings, use_case)
    registry.experiment_id(settings, f"{use_case.model_name}-training")  # migrations, not part of registration
    return written


def materialize_local(work: Path, rows: int) -> dict:
    """The local profile's online store, which validation's skew check reads."""
    from shipyard import features

    settings, _ = _context()
    start, end = features.materialize(settings)
    return {"start": start.isoformat(), "end": end.isoformat()}


def build(work: Path, rows: int) -> dict:
    """The pipeline's build: components.build_training_set (Feast point-in-time join, chunked)."""
    from components.build_training_set import build_training_set

    settings, _ = _context()
    defaults = pipeline_defaults()
    summary = build_training_set(settings, as_of=defaults["as_of"], training_days=defaults["training_days"],
                                 evaluation_days=defaults["evaluation_days"],
                                 label_delay_days=defaults["label_delay_days"],
                                 reference_fraction=defaults["reference_fraction"],
                                 train_path=str(work / "train.parquet"), holdout_path=str(work / "holdout.parquet"),
                                 reference_path=str(work / "reference.parquet"))
    (work / "summary.json").write_text(json.dumps(asdict(summary)))
    return {"train_rows": summary.rows, "holdout_rows": summary.holdout_rows,
            "reference_rows": summary.reference_rows, "dropped": summary.dropped_without_features,
            "chunks": summary.chunks}


def _summary(work: Path) -> dict:
    return json.loads((work / "summary.json").read_text())


def validate(work: Path, rows: int) -> dict:
    """components.validate.validate_dataset as validate_op calls it."""
    from components.validate import validate_dataset

    settings, _ = _context()
    summary, defaults = _summary(work), pipeline_defaults()
    result = validate_dataset(settings, str(work / "train.parquet"), summary["feature_columns"],
                              summary["feature_types"], summary["windows"]["evaluation_window"].split("/")[1],
                              min_rows=defaults["min_rows"], skew_sample=defaults["skew_sample"],
                              max_skew_share=defaults["max_skew_share"])
    return {"passed": result.passed, "violations": result.violations[:3]}


def _train_params() -> dict:
    defaults = pipeline_defaults()
    return {k: defaults[k] for k in ("model_family", "learning_rate", "max_iter", "max_leaf_nodes", "seed")}


def train(work: Path, rows: int) -> dict:
    """The pipeline's train step: components.train_large.train_from_path (Arrow batches, at most
    max_train_rows rows: every positive and weighted negatives)."""
    from components.train import save_model
    from components.train_large import train_from_path

    _, use_case = _context()
    model, sample = train_from_path(work / "train.parquet", _summary(work)["feature_columns"],
                                    use_case.categorical_columns(), use_case.label, task=use_case.task,
                                    max_rows=pipeline_defaults()["max_train_rows"], **_train_params())
    save_model(model, work / "model.skops")
    return sample


def train_in_memory(work: Path, rows: int) -> dict:
    """Side comparison: components.train.train_model on the whole training set in pandas."""
    import pandas as pd

    from components.train import save_model, train_model

    _, use_case = _context()
    columns = _summary(work)["feature_columns"]
    model = train_model(pd.read_parquet(work / "train.parquet", columns=[*columns, use_case.label]), columns,
                        use_case.categorical_columns(), use_case.label, task=use_case.task, **_train_params())
    save_model(model, work / "model-in-memory.skops")
    return {}


def _evaluate(work: Path, model_file: str, metrics_file: str) -> dict:
    from components.evaluate import evaluate_holdouts
    from components.train import load_model

    _, use_case = _context()
    metrics, _ = evaluate_holdouts(load_model(work / model_file), str(work / "holdout.parquet"),
                                   str(work / "reference.parquet"), _summary(work)["feature_columns"],
                                   use_case.label, use_case.categorical_columns(), task=use_case.task)
    (work / metrics_file).write_text(json.dumps(metrics))
    return {"roc_auc": metrics["roc_auc"], "pr_auc": metrics["pr_auc"],
            "reference_roc_auc": metrics["reference_roc_auc"]}


def evaluate(work: Path, rows: int) -> dict:
    """The pipeline's evaluation (components.evaluate.evaluate_holdouts) of the pipeline's model."""
    return _evaluate(work, "model.skops", "metrics.json")


def evaluate_in_memory(work: Path, rows: int) -> dict:
    """Side comparison: the same evaluation of the model trained on the whole set in memory."""
    return _evaluate(work, "model-in-memory.skops", "metrics-in-memory.json")


def register(work: Path, rows: int) -> dict:
    """components.register.register_model as register_op calls it, with the pipeline's model."""
    from components.lineage import window_tags
    from components.register import register_model

    settings, _ = _context()
    summary = _summary(work)
    metrics = json.loads((work / "metrics.json").read_text())
    tags = window_tags({**summary["windows"], "data_snapshot": summary["data_snapshot"]})
    registration = register_model(settings, str(work / "model.skops"), str(work / "train.parquet"),
                                  summary["feature_columns"], summary["feature_types"], metrics, _train_params(),
                                  pipeline_run=f"bench-scale-{rows}", tags=tags)
    return {"version": registration.version}


def materialize_redis(work: Path, rows: int) -> dict:
    """The production materializer: the same offline store into Redis, as `shipyard features materialize`
    runs in its CronJob (prod profile, Feast's SQL registry in a PostgreSQL database of its own, an empty
    Redis database index), chunk by chunk (features.materialize_incremental)."""
    import redis

    from shipyard import features
    from shipyard.settings import Settings
    from shipyard_cli.prod_demo import REDIS, free_redis_db, temporary_database

    local, use_case = _context()
    db = free_redis_db()
    try:
        with temporary_database() as registry_url:
            settings = Settings.from_env({
                "SHIPYARD_PROFILE": "prod", "SHIPYARD_HOME": str(work / "materializer-home"),
                "SHIPYARD_USE_CASE": use_case.name, "SHIPYARD_REDIS_URL": f"{REDIS}/{db}",
                "SHIPYARD_FEAST_PROJECT": "bench_scale", "SHIPYARD_FEAST_REGISTRY_URI": registry_url,
                "SHIPYARD_OFFLINE_STORE_URI": str(local.offline_store_path)}, component="materializer")
            features.apply(settings, use_case)
            done = features.materialize_incremental(settings)
            keys = redis.Redis.from_url(f"{REDIS}/{db}").dbsize()
    finally:
        redis.Redis.from_url(f"{REDIS}/{db}").flushdb()
    return {"views": len(done), "chunks": sum(view.chunks for view in done), "redis_keys": keys}


STEPS = {f.__name__: f for f in (generate, materialize_local, materialize_redis, build, validate, train,
                                 train_in_memory, evaluate, evaluate_in_memory, register)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("step", choices=sorted(STEPS))
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--detail", type=Path, required=True)
    args = parser.parse_args()
    args.detail.write_text(json.dumps(STEPS[args.step](args.work, args.rows), default=str))


if __name__ == "__main__":
    main()
