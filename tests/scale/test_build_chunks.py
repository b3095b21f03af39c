"""The bounded training-set build: chunked Feast joins give the same three sets as one join of everything."""

import pandas as pd
import pytest

from components.build_training_set import build_training_set
from shipyard import data, features
from usecases.fraud import USE_CASE

# Real Feast (DuckDB offline store) over the offline store; half a minute: `make test-slow`.
pytestmark = [pytest.mark.integration, pytest.mark.slow]

WINDOWS = dict(as_of="", training_days=28, evaluation_days=3, label_delay_days=14, reference_fraction=0.2)


def _build(settings, folder, **chunking):
    paths = {name: str(settings.home / folder / f"{name}.parquet") for name in ("train", "holdout", "reference")}
    summary = build_training_set(settings, train_path=paths["train"], holdout_path=paths["holdout"],
                                 reference_path=paths["reference"], **WINDOWS, **chunking)
    return summary, {name: pd.read_parquet(path) for name, path in paths.items()}


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns), kind="stable").reset_index(drop=True)


def test_chunked_build_writes_the_same_rows_and_values_as_one_join(shipyard_home):
    data.generate(shipyard_home, USE_CASE, 4_000, 11, None)
    features.apply(shipyard_home, USE_CASE)
    whole, once = _build(shipyard_home, "once", time_slice=None, chunk_rows=10**9)
    # Six-hour slices of at most 37 events: many Feast joins, many row groups per file.
    sliced, chunked = _build(shipyard_home, "chunked", time_slice=pd.Timedelta(hours=6), chunk_rows=37)
    assert whole.chunks == 1 and sliced.chunks > 100
    assert whole.rows > 1_000 and whole.holdout_rows > 50 and whole.reference_rows > 200
    assert whole.dropped_without_features > 0  # the first week has no feature rows yet
    for field in ("rows", "holdout_rows", "reference_rows", "dropped_without_features", "absent_views",
                  "feature_columns", "feature_types", "windows", "data_snapshot"):
        assert getattr(sliced, field) == getattr(whole, field), field
    for name in once:
        assert list(chunked[name].columns) == list(once[name].columns)
        assert dict(chunked[name].dtypes) == dict(once[name].dtypes)
        pd.testing.assert_frame_equal(_canonical(chunked[name]), _canonical(once[name]))
        pd.testing.assert_frame_equal(chunked[name], once[name])  # and in the same order
    # Compact types: the contract's ints as int32, the 0/1 label as int8; values the served floats.
    assert str(once["train"]["txn_count_7d"].dtype) == "int32" and str(once["train"]["is_fraud"].dtype) == "int8"
    assert once["train"]["amount"].dtype == "float64"
