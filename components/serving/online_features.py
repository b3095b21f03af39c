"""Online features of the contract's FeatureService, with the unknown-customer and staleness policy.

Policy (the model never sees a NaN):
- Unknown entity (a new customer, no row in the store): no recent spend, so every feature is
  ``NO_HISTORY`` (0.0, the value the feature job writes for a customer without transactions in the
  window); flagged ``features_missing`` and counted in ``shipyard_missing_features_total``.
- Stale row (event time older than the view's TTL): scored exactly like an unknown entity, because
  that is what the offline point-in-time join used for training gives a row past its TTL (null);
  flagged ``features_stale`` and counted in ``shipyard_stale_features_total``. Feast does not
  enforce the TTL online, so it is checked here. The clock is the view's newest materialization end
  (Feast's registry, re-read every ``CLOCK_REFRESH_SECONDS`` off the request path): the store holds
  values "as of" that time, and a replayed or backfilled data set is not flagged wholesale stale
  by the wall clock. A feature job that stops materializing is therefore not seen here.
- Store down: ``StoreUnavailable`` (the predictor answers 503); the next request tries again.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import numpy as np

from components.serving.feature_readers import FeatureViewReader, StoreUnavailable, reader_for
from shipyard import features
from shipyard.settings import Settings
from shipyard.usecase import UseCase

NO_HISTORY = 0.0
CLOCK_REFRESH_SECONDS = 60.0
logger = logging.getLogger(__name__)

__all__ = ["NO_HISTORY", "FeatureRows", "OnlineFeatures", "StoreUnavailable"]


@dataclass(frozen=True)
class FeatureRows:
    values: dict[str, list[float]]  # feature name -> one value per entity, defaults filled in
    missing: list[bool]
    stale: list[bool]


@dataclass
class ViewPlan:
    reader: FeatureViewReader
    names: list[str]
    view_name: str
    ttl_seconds: float | None
    as_of: float | None = None  # newest materialization end, unix seconds


def apply_policy(rows: list[tuple[float | None, list[float | None]]], names: list[str],
                 as_of: float | None, ttl_seconds: float | None) -> FeatureRows:
    """Defaults for unknown or stale rows; a partly written row counts as unknown."""
    values: dict[str, list[float]] = {name: [] for name in names}
    missing, stale = [], []
    for event_time, row in rows:
        is_missing = event_time is None or any(v is None for v in row)
        is_stale = (not is_missing and ttl_seconds is not None and as_of is not None
                    and event_time < as_of - ttl_seconds)
        for name, value in zip(names, row, strict=True):
            values[name].append(NO_HISTORY if is_missing or is_stale else value)
        missing.append(is_missing)
        stale.append(is_stale)
    return FeatureRows(values, missing, stale)


class OnlineFeatures:
    def __init__(self, settings: Settings, use_case: UseCase):
        self.settings = settings
        self.store = features.feature_store(settings)
        self.service, self.names = features.contract(self.store, use_case)
        self.store_type = str(self.store.config.online_store.type)
        entity = self.store.get_entity(self._entity_name(use_case.entity))
        self.plans = []
        for projection in self.service.feature_view_projections:
            view = self.store.get_feature_view(projection.name)
            names = [f.name for f in projection.features]
            ttl = view.ttl.total_seconds() if view.ttl else None
            self.plans.append(ViewPlan(reader_for(self.store, view, entity, names), names, view.name, ttl))
        self.refresh_clock()
        self._stop = threading.Event()

    def _entity_name(self, join_key: str) -> str:
        for entity in self.store.list_entities():
            if entity.join_key == join_key:
                return entity.name
        raise LookupError(f"no Feast entity has the join key {join_key!r}")

    def refresh_clock(self) -> None:
        """Each view's newest materialization end, from the registry."""
        self.store.refresh_registry()
        for plan in self.plans:
            end = self.store.get_feature_view(plan.view_name).most_recent_end_time
            if end is not None and end.tzinfo is None:
                end = end.replace(tzinfo=UTC)  # Feast records naive UTC times
            plan.as_of = end.timestamp() if end is not None else None

    def start_clock_refresh(self) -> None:
        def loop() -> None:
            while not self._stop.wait(CLOCK_REFRESH_SECONDS):
                try:
                    self.refresh_clock()
                except Exception as exc:  # keep the last clock; the next refresh tries again
                    logger.warning("could not refresh materialization times: %s", exc)
        threading.Thread(target=loop, name="feature-clock", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def lookup(self, entity_ids: list[Any]) -> FeatureRows:
        """Feature values in ``entity_ids`` order; raises ``StoreUnavailable`` if the store does not answer."""
        parts = [apply_policy(plan.reader.read(entity_ids), plan.names, plan.as_of, plan.ttl_seconds)
                 for plan in self.plans]
        if len(parts) == 1:
            return parts[0]
        values = {name: column for part in parts for name, column in part.values.items()}
        missing = np.any([p.missing for p in parts], axis=0).tolist()
        stale = np.any([p.stale for p in parts], axis=0).tolist()
        return FeatureRows(values, missing, stale)
