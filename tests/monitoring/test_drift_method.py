"""The configured drift methods decide, not Evidently's defaults: data on which the two disagree.

Evidently picks p-value tests (K-S, chi-square) when the reference has at most 1,000 rows; with a
few thousand current rows they flag differences too small to matter. Here the amounts are logged
rounded to 2 units (normed Wasserstein distance ~0.07) and the merchant mix moves by 4 points
(Jensen-Shannon ~0.04): the effect-size methods the drift job configures (threshold 0.1) call this
no drift, Evidently's defaults call both columns drifted. Dropping the method setting from
monitoring/drift_compute.py makes this test fail.
"""

import numpy as np
import pandas as pd
import pytest

from monitoring.drift_compute import compute_drift

pytestmark = pytest.mark.unit
NUM, CAT = ["amount"], ["merchant_category"]


@pytest.fixture(scope="module")
def small_reference_and_harmless_change() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"amount": rng.normal(50, 10, 1_000),
                              "merchant_category": np.repeat(["grocery", "fuel", "online"], [500, 300, 200])})
    current = pd.DataFrame({"amount": np.round(rng.normal(50, 10, 5_000) / 2) * 2,
                            "merchant_category": np.repeat(["grocery", "fuel", "online"], [2_300, 1_500, 1_200])})
    return reference, current


def evidently_default_decisions(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, tuple[str, bool]]:
    """Column -> (method, drifted) with Evidently choosing the method (no ``method=``)."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    definition = DataDefinition(numerical_columns=NUM, categorical_columns=CAT)
    snapshot = Report([ValueDrift(column=c) for c in (*NUM, *CAT)], include_tests=True).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition))
    result = snapshot.dict()
    methods = {m["config"]["column"]: m["config"]["method"] for m in result["metrics"]}
    failed = {t["metric_config"]["params"]["column"]: t["status"].value == "FAIL" for t in result["tests"]}
    return {column: (methods[column], failed[column]) for column in methods}


def test_evidently_defaults_would_call_the_harmless_change_drift(small_reference_and_harmless_change):
    # The premise: without a configured method, both columns drift on this data.
    defaults = evidently_default_decisions(*small_reference_and_harmless_change)
    assert defaults == {"amount": ("K-S p_value", True), "merchant_category": ("chi-square p_value", True)}


def test_the_configured_effect_size_methods_do_not(small_reference_and_harmless_change):
    drift = compute_drift(*small_reference_and_harmless_change, NUM, CAT)
    decisions = {f.feature: (f.method, f.drifted) for f in drift.features}
    assert decisions == {"amount": ("wasserstein", False), "merchant_category": ("jensenshannon", False)}


def test_the_drift_share_counts_the_configured_decisions(small_reference_and_harmless_change):
    # shipyard_drift_share and ShipyardDatasetDriftHigh must agree with the per-feature decisions.
    drift = compute_drift(*small_reference_and_harmless_change, NUM, CAT)
    assert drift.drift_share == sum(f.drifted for f in drift.features) / len(drift.features) == 0.0
    assert not drift.dataset_drift
