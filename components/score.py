"""Score a table of entities offline with a registered model version; each row says which version."""

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class ScoringSummary:
    rows: int
    model_name: str
    model_version: int
    features_missing: int


def score_customers(settings, customers_path: str, output_path: str, model_version: int = 0,
                    data_snapshot: str = "") -> ScoringSummary:
    """Score every row with the contract's newest features of its entity (as the online store has them).

    ``model_version`` 0 scores with the version behind the ``champion`` alias, resolved once here so
    that every row of the output carries the same, pinned version.
    """
    from components.feature_checks import latest_offline_rows
    from components.lineage import verify_snapshot
    from components.train import predictions_of
    from shipyard import features, registry
    from shipyard.usecase import load_use_case

    if model_version < 0:
        raise ValueError(f"model_version must be 0 (champion) or a registered version, not {model_version}")
    use_case = load_use_case(settings.use_case)
    verify_snapshot(data_snapshot, customers_path)
    table = pd.read_parquet(customers_path)
    required = [f.name for f in use_case.request_fields]
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise ValueError(f"{customers_path} lacks columns {', '.join(missing)} (needs {', '.join(required)})")
    if not len(table):
        raise ValueError(f"{customers_path} has no rows to score")
    version = model_version or registry.alias_version(settings, use_case.model_name, registry.CHAMPION)
    if version is None:
        raise LookupError(f"registered model {use_case.model_name!r} has no champion: run the training pipeline")
    model = registry.load_sklearn_model(settings, use_case.model_name, version)
    columns = registry.input_columns(settings, use_case.model_name, version)

    # Each entity's newest offline feature row: what materialize loads into the online store.
    store = features.feature_store(settings)
    service, feature_names = features.contract(store, use_case)
    joined = table.copy()
    for projection in service.feature_view_projections:
        view = store.get_feature_view(projection.name)
        latest = latest_offline_rows(store, view, datetime.now(UTC))
        keys = [c.name for c in view.entity_columns]
        wanted = [f.name for f in projection.features]
        joined = joined.merge(latest[keys + wanted], on=keys, how="left", validate="many_to_one")
    # An entity the store does not know scores with zeros, as the online predictor does, and is flagged.
    joined["features_missing"] = joined[feature_names].isna().any(axis=1)
    joined[feature_names] = joined[feature_names].fillna(0)
    joined["score"] = predictions_of(model, joined, columns, use_case.task)  # a probability, or the estimate
    joined["model_name"] = use_case.model_name
    joined["model_version"] = int(version)
    Path(output_path).parent.mkdir(parents=True, exist_ok=True)
    joined.to_parquet(output_path, index=False)
    return ScoringSummary(len(joined), use_case.model_name, int(version), int(joined["features_missing"].sum()))
