"""The benchmark's platform: data, Feast, a trained champion, the model exported for the peers."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from shipyard.settings import Settings

ROWS, SEED = 20_000, 11
BENCH_PROJECT = "shipyard_bench"


def trained_settings(home: Path) -> Settings:
    """A home with data, Feast (SQLite) and a champion; reused when it already has one."""
    from pipelines.runs import run_training
    from shipyard import data, features, registry
    from shipyard.usecase import load_use_case

    settings = Settings.from_env({"SHIPYARD_HOME": str(home)})
    use_case = load_use_case(settings.use_case)
    try:
        registry.resolve_version(settings, use_case.model_name)
        return settings
    except LookupError:
        pass
    data.generate(settings, use_case, ROWS, SEED, None)
    features.apply(settings, use_case)
    features.materialize(settings)
    outcome = run_training(settings, min_roc_auc=0.7, max_iter=100)
    if not outcome.promoted:
        raise RuntimeError(outcome.describe())
    return settings


def materialize_to_redis(settings: Settings, redis_url: str, registry_uri: str) -> Settings:
    """The prod profile's online store: Redis at ``redis_url``, Feast's SQL registry at ``registry_uri``
    (PostgreSQL, as the prod profile requires)."""
    from shipyard import features
    from shipyard.usecase import load_use_case

    redis_settings = replace(settings, profile="prod", redis_url=redis_url, feast_project=BENCH_PROJECT,
                             feast_registry_uri=registry_uri)
    features.apply(redis_settings, load_use_case(settings.use_case))
    features.materialize(redis_settings)
    return redis_settings


def export_model(settings: Settings, out: Path) -> tuple[Path, Path, list[str]]:
    """The champion as skops (KServe peer), joblib + model-settings.json (MLServer), its input columns."""
    import shutil
    import subprocess
    import sys

    from shipyard import registry

    version = registry.resolve_version(settings, "fraud")
    model = registry.load_sklearn_model(settings, "fraud", version)
    columns = registry.input_columns(settings, "fraud", version)
    out.mkdir(parents=True, exist_ok=True)
    from components.train import save_model

    skops_path = out / "model.skops"
    save_model(model, skops_path)
    mlserver_dir = out / "mlserver" / "fraud"
    shutil.rmtree(mlserver_dir, ignore_errors=True)
    mlserver_dir.mkdir(parents=True)
    # MLServer's sklearn runtime reads joblib only. Dumped by a fresh interpreter: in this one, libraries
    # imported on the way (dill) have patched pickle, and the file would need them to load.
    subprocess.run([sys.executable, "-c", "import sys, joblib; from components.train import load_model; "
                    "joblib.dump(load_model(sys.argv[1]), sys.argv[2])", str(skops_path),
                    str(mlserver_dir / "model.joblib")], check=True)
    (mlserver_dir / "model-settings.json").write_text(json.dumps({
        "name": "fraud", "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib", "extra": {"predict_method": "predict_proba"}}}))
    return skops_path, mlserver_dir.parent, columns


def feature_rows(settings: Settings, count: int) -> list[dict]:
    """Full model-input rows (request fields + the customer's features) for the peers, which have no store."""
    from shipyard import data
    from shipyard.usecase import load_use_case

    use_case = load_use_case(settings.use_case)
    table = data.read_table(settings, data.feature_table(use_case), use_case.timestamp)  # the offline store
    latest = table.sort_values(use_case.timestamp).groupby("customer_id").tail(1).head(count)
    from usecases.fraud.data import CATEGORIES as categories

    return [{"customer_id": int(r.customer_id), "amount": round(10.0 + (i * 7.3) % 300, 2),
             "merchant_category": categories[i % len(categories)], "hour": i % 24,
             "txn_count_7d": int(r.txn_count_7d), "avg_amount_7d": float(r.avg_amount_7d),
             "max_amount_7d": float(r.max_amount_7d)} for i, r in enumerate(latest.itertuples())]
