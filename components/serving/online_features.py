"""Online feature lookup for the contract's FeatureService.

An entity the store does not know (a new customer) has no recent spend: its features are scored as
zeros ("no history"), flagged in the prediction log and counted in ``shipyard_missing_features_total``,
so the model never sees a NaN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shipyard import features
from shipyard.settings import Settings
from shipyard.usecase import UseCase

NO_HISTORY = 0.0


class OnlineFeatures:
    def __init__(self, settings: Settings, use_case: UseCase):
        self.store = features.feature_store(settings)
        self.service, self.names = features.contract(self.store, use_case)
        self.entity = use_case.entity
        self.store_type = str(self.store.config.online_store.type)

    def lookup(self, entity_ids: list[int]) -> tuple[pd.DataFrame, np.ndarray]:
        """Feature rows in ``entity_ids`` order, and a mask of entities the store did not know."""
        rows = [{self.entity: entity_id} for entity_id in entity_ids]
        found = self.store.get_online_features(features=self.service, entity_rows=rows).to_dict()
        frame = pd.DataFrame({name: pd.array(found[name], dtype="Float64") for name in self.names})
        missing = frame.isna().all(axis=1).to_numpy()
        return frame.fillna(NO_HISTORY).astype("float64"), missing
