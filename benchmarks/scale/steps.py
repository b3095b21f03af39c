"""The training pipeline's steps at scale, one function each, run one per process by ``run.py``.

    python -m benchmarks.scale.steps STEP --work DIR --detail OUT.json

Each function calls the project's current step code the way the pipeline does (a changed step is
pointed at by editing one function here). State lives in ``DIR``: ``home/`` (SHIPYARD_HOME, set by
the caller), ``home/offline/`` (the offline store layout), ``train.parquet``, ``holdout.parquet``,
``summary.json`` (the build's output the later steps read, like KFP artifact metadata) and models.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict, replace
from datetime import timedelta
from pathlib import Path

SEED = 7
HOLDOUT_FRACTION = 0.2
TRAIN_PARAMS = {"model_family": "hist_gradient_boosting", "learning_rate": 0.1, "max_iter": 200,
                "max_leaf_nodes": 31, "seed": 0}
MATERIALIZE_CHUNK = timedelta(days=1)


def _context():
    from shipyard.settings import get_settings
    from shipyard.usecase import load_use_case

    settings = get_settings()
    return settings, load_use_case(settings.use_case)


def offline_uri(settings) -> Path:
    return Path(os.environ.get("SHIPYARD_OFFLINE_STORE_URI") or settings.home / "offline")


def generate(work: Path, rows: int) -> dict:
    """Events and the feature table in the offline layout; Feast definitions applied; MLflow's database made."""
    from benchmarks.scale import layout
    from shipyard import features, registry

    settings, use_case = _context()
    settings.ensure_dirs()
    offline = offline_uri(settings)
    files = layout.write_events(offline, rows, SEED, use_case.generate)
    feature_rows = layout.write_features(offline, use_case.build_features, settings.feast_dir / features.OFFLINE_TABLE)
    features.apply(settings, use_case)
    registry.experiment_id(settings, f"{use_case.model_name}-training")  # migrations, not part of registration
    return {"event_files": files, "feature_rows": feature_rows}


def materialize_local(work: Path, rows: int) -> dict:
    """Today's materialization into the local profile's online store (the skew check reads it)."""
    from shipyard import features

    settings, _ = _context()
    start, end = features.materialize(settings)
    return {"start": start.isoformat(), "end": end.isoformat()}


def events_file(work: Path, rows: int) -> dict:
    """Today's build reads one events file: the partitions streamed into one, a row group at a time."""
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    settings, _ = _context()
    dataset = ds.dataset(str(offline_uri(settings) / "transactions"), format="parquet", partitioning="hive")
    columns = [c for c in dataset.schema.names if c != "date"]
    with pq.ParquetWriter(work / "events.parquet", dataset.schema.remove(dataset.schema.get_field_index("date"))) \
            as writer:
        for batch in dataset.to_batches(columns=columns, batch_size=256 * 1024):
            writer.write_batch(batch)
    return {}


def build(work: Path, rows: int) -> dict:
    """Point-in-time training set from Feast: components.build_training_set as the pipeline runs it."""
    from components.build_training_set import build_training_set

    summary = build_training_set(str(work / "events.parquet"), "", HOLDOUT_FRACTION,
                                 str(work / "train.parquet"), str(work / "holdout.parquet"))
    (work / "summary.json").write_text(json.dumps(asdict(summary)))
    return {"train_rows": summary.rows, "holdout_rows": summary.holdout_rows}


def build_duckdb(work: Path, rows: int) -> dict:
    """Stand-in for a bounded build, so the later steps can be measured where today's build cannot run:
    the same point-in-time join (latest feature row at or before the event, within the view's TTL,
    labels known at the newest event, time split) as one DuckDB query over the offline layout,
    spilling to disk past its memory limit. Replace with the project's build once it reads the
    offline store by window."""
    import duckdb

    from components.feature_checks import contract_types
    from shipyard import features

    settings, use_case = _context()
    store = features.feature_store(settings)
    service, names = features.contract(store, use_case)
    ttl = store.get_feature_view(service.feature_view_projections[0].name).ttl
    request = [f.name for f in use_case.model_request_fields]
    offline = offline_uri(settings)
    db = duckdb.connect()
    db.execute(f"SET memory_limit='1GB'; SET threads=2; SET preserve_insertion_order=false; "
               f"SET temp_directory='{work / 'duckdb-spill'}'")
    events = f"read_parquet('{offline}/transactions/*/*.parquet', hive_partitioning=false)"
    table = f"read_parquet('{offline}/customer_spend_stats/*/*.parquet', hive_partitioning=false)"
    cutoff = db.execute(f"SELECT max(event_timestamp) FROM {events}").fetchone()[0]
    feature_list = ", ".join(f"CASE WHEN e.event_timestamp - f.event_timestamp <= INTERVAL '{ttl.total_seconds()} "
                             f"seconds' THEN f.{n} END AS {n}" for n in names)
    db.execute(f"""CREATE VIEW joined AS SELECT * FROM (
        SELECT e.event_timestamp, {", ".join(f"e.{c}" for c in request)}, e.{use_case.label}, {feature_list}
        FROM (SELECT * FROM {events} WHERE event_timestamp <= $cutoff AND label_available_at <= $cutoff) e
        ASOF LEFT JOIN {table} f ON e.customer_id = f.customer_id AND e.event_timestamp >= f.event_timestamp)
        WHERE NOT ({" AND ".join(f"{n} IS NULL" for n in names)})""".replace("$cutoff", f"'{cutoff}'"))
    split = db.execute(f"SELECT quantile_disc(event_timestamp, {1 - HOLDOUT_FRACTION}) FROM joined").fetchone()[0]
    counts = {}
    for name, where in (("train", f"event_timestamp < '{split}'"), ("holdout", f"event_timestamp >= '{split}'")):
        path = work / f"{name}-duckdb.parquet"
        db.execute(f"COPY (SELECT * FROM joined WHERE {where}) TO '{path}' (FORMAT parquet)")
        counts[name] = db.execute(f"SELECT count(*) FROM '{path}'").fetchone()[0]
    types = contract_types(store, use_case)
    columns = [f.name for f in use_case.model_request_fields] + names
    summary = json.dumps({"rows": counts["train"], "holdout_rows": counts["holdout"], "feature_columns": columns,
                          "feature_types": {c: types[c] for c in columns}, "snapshot_time": str(cutoff)})
    (work / "summary-duckdb.json").write_text(summary)
    if not (work / "summary.json").exists():  # today's build did not run or failed: the later steps use this one
        for name in ("train", "holdout"):
            (work / f"{name}-duckdb.parquet").rename(work / f"{name}.parquet")
        (work / "summary.json").write_text(summary)
    return {"train_rows": counts["train"], "holdout_rows": counts["holdout"]}


def _summary(work: Path) -> dict:
    return json.loads((work / "summary.json").read_text())


def validate(work: Path, rows: int) -> dict:
    from components.validate import validate_dataset

    summary = _summary(work)
    result = validate_dataset(str(work / "train.parquet"), summary["feature_columns"], summary["feature_types"],
                              summary["snapshot_time"], min_rows=200, skew_sample=200, max_skew_share=0.05)
    return {"passed": result.passed, "violations": result.violations[:3]}


def train_in_memory(work: Path, rows: int) -> dict:
    """components.train.train_model on the whole training set in memory (today's train step)."""
    import pandas as pd

    from components.train import save_model, train_model

    _, use_case = _context()
    columns = _summary(work)["feature_columns"]
    model = train_model(pd.read_parquet(work / "train.parquet"), columns, use_case.categorical_columns(),
                        use_case.label, **TRAIN_PARAMS)
    save_model(model, work / "model-in-memory.skops")
    return {}


def train_bounded(work: Path, rows: int) -> dict:
    """components.train_large: Arrow batches, every positive, a weighted sample of negatives."""
    from components.train import save_model
    from components.train_large import train_model_bounded

    _, use_case = _context()
    columns = _summary(work)["feature_columns"]
    model, sample = train_model_bounded(work / "train.parquet", columns, use_case.categorical_columns(),
                                        use_case.label, **TRAIN_PARAMS)
    save_model(model, work / "model-bounded.skops")
    return asdict(sample)


def _evaluate(work: Path, which: str) -> dict:
    import pandas as pd

    from components.evaluate import evaluate_model
    from components.train import load_model

    _, use_case = _context()
    columns = _summary(work)["feature_columns"]
    metrics = evaluate_model(load_model(work / f"model-{which}.skops"), pd.read_parquet(work / "holdout.parquet"),
                             columns, use_case.label, use_case.categorical_columns())
    (work / f"metrics-{which}.json").write_text(json.dumps(metrics))
    return {"roc_auc": metrics["roc_auc"], "pr_auc": metrics["pr_auc"]}


def evaluate(work: Path, rows: int) -> dict:
    return _evaluate(work, "in-memory")


def evaluate_bounded(work: Path, rows: int) -> dict:
    return _evaluate(work, "bounded")


def register(work: Path, rows: int) -> dict:
    """components.register.register_model with the bounded model (the one that fits at every size)."""
    from components.register import register_model

    summary = _summary(work)
    metrics = json.loads((work / "metrics-bounded.json").read_text())
    registration = register_model(str(work / "model-bounded.skops"), str(work / "train.parquet"),
                                  summary["feature_columns"], summary["feature_types"], metrics, TRAIN_PARAMS,
                                  pipeline_run=f"bench-scale-{rows}", tags={})
    return {"version": registration.version}


def drift(work: Path, rows: int) -> dict:
    """The drift job at ``rows`` logged predictions: the drift benchmark's entry point when it has one."""
    import benchmarks.drift as drift_benchmark

    entry = getattr(drift_benchmark, "measure_at", None)  # expected: measure_at(rows, work) -> dict
    if entry is None:
        raise NotImplementedError("the drift benchmark has no measure_at(rows, work) entry point yet")
    return entry(rows, work / "drift")


def materialize_redis(work: Path, rows: int) -> dict:
    """The feature table into Redis (SHIPYARD_REDIS_URL) one day at a time: memory bounded by a day."""
    import contextlib
    import io

    import pandas as pd

    from shipyard import features

    settings, use_case = _context()
    settings = replace(settings, profile="prod", feast_project="bench_scale")
    features.apply(settings, use_case)
    store = features.feature_store(settings)
    stamps = pd.read_parquet(settings.feast_dir / features.OFFLINE_TABLE, columns=["event_timestamp"])
    start, end = stamps["event_timestamp"].min().to_pydatetime(), stamps["event_timestamp"].max().to_pydatetime()
    del stamps
    chunks = 0
    while start <= end:
        stop = min(start + MATERIALIZE_CHUNK, end + timedelta(seconds=1))
        with contextlib.redirect_stdout(io.StringIO()):  # Feast prints progress bars
            store.materialize(start_date=start, end_date=stop)
        start, chunks = stop, chunks + 1
    return {"chunks": chunks}


STEPS = {f.__name__: f for f in (generate, materialize_local, events_file, build, build_duckdb, validate,
                                 train_in_memory, train_bounded, evaluate, evaluate_bounded, register, drift,
                                 materialize_redis)}


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
