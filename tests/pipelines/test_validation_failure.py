"""A corrupted dataset stops the training pipeline at validation, with a report naming each problem."""

import numpy as np
import pandas as pd
import pytest

from pipelines.runs import PipelineFailed, run_training
from shipyard import features, registry
from shipyard.data import events_path
from tests.platform_setup import prepare_platform

pytestmark = pytest.mark.integration


def corrupt(settings) -> None:
    """Negative amounts in the events; missing and stale customer features in the offline table."""
    events = pd.read_parquet(events_path(settings))
    events.loc[events.index[::200], "amount"] = -5.0
    events.to_parquet(events_path(settings), index=False)
    table_path = features.offline_table_path(settings)
    table = pd.read_parquet(table_path)
    table.loc[table.index[::25], "avg_amount_7d"] = np.nan
    newest = table["event_timestamp"].max()
    table = table[table["event_timestamp"] <= newest - pd.Timedelta(days=5)]  # the daily job stopped
    table.to_parquet(table_path, index=False)


def test_corrupted_data_fails_validation_and_registers_nothing(shipyard_home):
    settings = shipyard_home
    prepare_platform(settings, rows=8_000)
    corrupt(settings)

    with pytest.raises(PipelineFailed) as failure:
        run_training(settings, min_roc_auc=0.5)
    outcome = failure.value.outcome
    assert outcome.status == "failed" and outcome.version is None
    report = outcome.validation_report.read_text()
    assert report.startswith("# Data validation: FAILED")
    assert "nulls: column 'avg_amount_7d' has" in report
    assert "ranges: column 'amount' has" in report and "values below 0.0" in report
    assert "stale features: feature view 'customer_spend_stats'" in report
    message = str(failure.value)
    assert message.startswith("training pipeline failed: data validation failed:")
    assert str(outcome.validation_report) in message
    assert registry.client(settings).search_model_versions("name = 'fraud'") == []
