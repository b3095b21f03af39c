"""What validation needs from Feast: the contract's types, feature freshness, offline/online skew.

Everything is read through the Feast FeatureService of the use case (the feature contract), so a
second use case gets the same checks without code changes.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class FeatureFreshness:
    view: str
    newest: pd.Timestamp | None  # newest feature row at or before the snapshot time
    ttl: timedelta | None


@dataclass(frozen=True)
class SkewSample:
    entities: int
    mismatched: dict[str, int]  # feature -> entities whose online value differs from the offline one
    missing_online: int


def contract_types(store, use_case) -> dict[str, str]:
    """Expected kind (int, float, category) of every model input: request fields + Feast features."""
    kinds = {f.name: f.kind for f in use_case.model_request_fields}
    for view in _views(store, use_case):
        for field in view.features:
            text = str(field.dtype).lower()
            kinds[field.name] = "int" if "int" in text else "float" if "float" in text else "category"
    return kinds


def latest_offline_rows(store, view, end: datetime) -> pd.DataFrame:
    """The newest offline row of every entity at or before ``end`` (what materialize would load)."""
    from feast.infra.offline_stores.offline_utils import get_offline_store_from_config

    source = view.batch_source
    offline = get_offline_store_from_config(store.config.offline_store)
    job = offline.pull_latest_from_table_or_query(
        config=store.config, data_source=source, join_key_columns=[c.name for c in view.entity_columns],
        feature_name_columns=[f.name for f in view.features], timestamp_field=source.timestamp_field,
        created_timestamp_column=source.created_timestamp_column or None,
        start_date=datetime(1970, 1, 1, tzinfo=UTC), end_date=end)
    return job.to_df()


def freshness(store, use_case, snapshot_time: pd.Timestamp) -> list[FeatureFreshness]:
    result = []
    for view in _views(store, use_case):
        rows = latest_offline_rows(store, view, snapshot_time.to_pydatetime())
        column = view.batch_source.timestamp_field
        newest = pd.Timestamp(rows[column].max()) if len(rows) else None
        result.append(FeatureFreshness(view.name, newest, view.ttl or None))
    return result


def online_offline_skew(store, use_case, sample_size: int, seed: int = 0,
                        tolerance: float = 1e-6) -> SkewSample:
    """Compare the online store with the newest offline values for a random sample of entities."""
    service, names = _service(store, use_case)
    offline = pd.concat([latest_offline_rows(store, view, datetime.now(UTC)).set_index(use_case.entity)
                         for view in _views(store, use_case)], axis=1)
    if offline.empty:
        return SkewSample(0, {}, 0)
    rng = np.random.default_rng(seed)
    keys = rng.choice(offline.index.to_numpy(), size=min(sample_size, len(offline)), replace=False)
    entity_rows = [{use_case.entity: int(k) if np.issubdtype(type(k), np.integer) else k} for k in keys]
    online = pd.DataFrame(store.get_online_features(features=service, entity_rows=entity_rows).to_dict())
    online = online.set_index(use_case.entity)
    expected = offline.loc[keys, names]
    missing = int(online[names].isna().all(axis=1).sum())
    mismatched = {}
    for name in names:
        left = pd.to_numeric(expected[name], errors="coerce").to_numpy(dtype=float)
        right = pd.to_numeric(online.loc[keys, name], errors="coerce").to_numpy(dtype=float)
        differs = ~np.isclose(left, right, rtol=tolerance, atol=tolerance, equal_nan=True)
        if differs.any():
            mismatched[name] = int(differs.sum())
    return SkewSample(len(keys), mismatched, missing)


def _service(store, use_case):
    from shipyard import features

    return features.contract(store, use_case)


def _views(store, use_case) -> list:
    service, _ = _service(store, use_case)
    return [store.get_feature_view(projection.name) for projection in service.feature_view_projections]
