"""A corrupted dataset stops the training pipeline at validation, with a report naming each problem."""

import numpy as np
import pandas as pd
import pytest

from pipelines.runs import PipelineFailed, run_training
from shipyard import data, registry
from tests.platform_setup import prepare_platform
from usecases.fraud.data import START

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # a whole pipeline run: `make test-slow`


def corrupt(settings) -> None:
    """A broken ingestion job: negative amounts in the events; missing customer features, and the daily
    feature job stopped five days before the end of the evaluation window (which ends ~day 28)."""
    for part in data.table_dir(settings, data.EVENTS).rglob("*.parquet"):
        events = pd.read_parquet(part)
        events.loc[events.index[::200], "amount"] = -5.0
        events.to_parquet(part, index=False)
    stopped = START + pd.Timedelta(days=23)
    for part in data.table_dir(settings, "customer_spend_stats").rglob("*.parquet"):
        if pd.Timestamp(part.parent.name.removeprefix("date="), tz="UTC") >= stopped:
            part.unlink()
            continue
        table = pd.read_parquet(part)
        table.loc[table.index[::25], "avg_amount_7d"] = np.nan
        table.to_parquet(part, index=False)


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
