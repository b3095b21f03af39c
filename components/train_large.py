"""Train on a training set larger than memory: stream it, keep every positive, sample the negatives.

The pipeline's train step (``train_from_path``) always reads the training set this way. A binary
classifier keeps every positive and samples negatives with weights (below); a regression has no
majority class, so above ``max_rows`` it keeps a uniform, seeded sample of rows (unweighted: every row
stands for the same number of rows), and below it every row.

Fraud is rare (about 1.5% of events), so almost all of a large training set is negatives that add
little once a few hundred thousand are seen. The Parquet training set (one file or a folder of
files) is read twice in Arrow record batches, only the model's columns and the label:

1. the label column alone, to count positives and negatives;
2. every column, keeping each positive and each negative with probability ``rate`` (chosen so at
   most ``max_rows`` rows are kept), in compact dtypes (int32, categories; floats stay float64).

Kept negatives weigh ``1 / rate`` in the fit, so the model's probabilities stay on the scale of the
full data (the rate of fraud the model sees is the real one) and its ranking barely moves. Peak
memory is one batch plus the kept rows, whatever the size of the input. The model is the same
family and the same pipeline as ``components.train.train_model`` returns: same input columns, same
``predict_proba``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

# Rows kept for the fit. The budget is below the training set of 1M events (about 510k rows), so the
# comparison with the in-memory model at 1M measures the sampling that runs at 10M; 250k rows of
# 8 columns are a few tens of MB, and the fit's time no longer grows with the data.
DEFAULT_MAX_ROWS = 250_000
BATCH_ROWS = 256 * 1024
# How much lower the holdout ROC AUC of the sampled model may be than the full in-memory model's: the
# champion gate's default tolerance (pipelines' `tolerance`), so a model trained this way would pass
# the gate against the same model trained in memory. Measured at 1M events by `make bench-scale`.
AUC_TOLERANCE = 0.01


@dataclass(frozen=True)
class SampleSummary:
    rows_read: int
    positives: int
    negatives: int
    negatives_kept: int
    negative_rate: float  # the share of negatives kept; each kept one weighs 1 / negative_rate

    @property
    def rows_kept(self) -> int:
        return self.positives + self.negatives_kept


def negative_rate_for(positives: int, negatives: int, max_rows: int) -> float:
    """The share of negatives to keep so that positives + kept negatives is at most ``max_rows``."""
    if positives >= max_rows:
        raise ValueError(f"{positives} positive rows alone exceed max_rows={max_rows}: raise max_rows "
                         "(every positive is kept)")
    if negatives == 0:
        return 1.0
    return min(1.0, (max_rows - positives) / negatives)


def sample_training_set(path: str | Path, feature_columns: list[str], categorical: list[str], label: str, *,
                        max_rows: int = DEFAULT_MAX_ROWS, negative_rate: float | None = None, seed: int = 0,
                        batch_rows: int = BATCH_ROWS) -> tuple[pd.DataFrame, np.ndarray, SampleSummary]:
    """Every positive and a seeded sample of negatives, with their weights, read batch by batch.

    ``negative_rate`` fixes the share of negatives kept; by default it follows from ``max_rows``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    dataset = ds.dataset(str(path), format="parquet")
    missing = [c for c in [*feature_columns, label] if c not in dataset.schema.names]
    if missing:
        raise ValueError(f"training set {path} has no column(s): {', '.join(missing)}")
    positives = negatives = 0
    for batch in dataset.to_batches(columns=[label], batch_size=batch_rows):
        ones = int(pc.sum(pc.cast(batch.column(0), pa.int64())).as_py() or 0)
        positives += ones
        negatives += batch.num_rows - ones
    if positives == 0 or negatives == 0:
        raise ValueError(f"training set {path} has a single class ({positives} positive, {negatives} negative)")
    rate = negative_rate if negative_rate is not None else negative_rate_for(positives, negatives, max_rows)
    if not 0.0 < rate <= 1.0:
        raise ValueError(f"negative_rate must be in (0, 1], got {rate}")

    rng = np.random.default_rng(seed)
    kept = []
    for batch in dataset.to_batches(columns=[*feature_columns, label], batch_size=batch_rows):
        is_positive = batch.column(label).to_numpy(zero_copy_only=False) == 1
        keep = is_positive | (rng.random(batch.num_rows) < rate)
        kept.append(_compact(batch.filter(pa.array(keep)), categorical))
    frame = pa.Table.from_batches(kept).to_pandas()
    for column in categorical:
        frame[column] = frame[column].astype("category")
    truth = frame[label].to_numpy()
    weights = np.where(truth == 1, 1.0, 1.0 / rate)
    summary = SampleSummary(rows_read=positives + negatives, positives=positives, negatives=negatives,
                            negatives_kept=int((truth != 1).sum()), negative_rate=rate)
    return frame, weights, summary


def _compact(batch, categorical: list[str]):
    """int64 -> int32 (the values of this use case fit), floats and strings unchanged.

    Floats stay float64: a tree fit on float32-rounded values puts some split thresholds exactly on
    a rounded value, and the served float64 value (2.56 is above float32's 2.5599999) then takes the
    other branch: predictions moved by minutes for a few percent of rows, sklearn and ONNX alike.
    """
    import pyarrow as pa

    columns, names = [], []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if name not in categorical:
            if pa.types.is_int64(column.type):
                column = column.cast(pa.int32())  # safe cast: raises if a value does not fit
        columns.append(column)
        names.append(name)
    return pa.RecordBatch.from_arrays(columns, names=names)


def train_model_bounded(path: str | Path, feature_columns: list[str], categorical: list[str], label: str, *,
                        model_family: str = "hist_gradient_boosting", learning_rate: float = 0.1,
                        max_iter: int = 200, max_leaf_nodes: int = 31, seed: int = 0,
                        max_rows: int = DEFAULT_MAX_ROWS, negative_rate: float | None = None,
                        batch_rows: int = BATCH_ROWS):
    """The model ``components.train.train_model`` would fit, from a sample that fits in memory.

    Returns the fitted sklearn Pipeline and the ``SampleSummary`` of what it was fitted on.
    """
    from components.train import make_model

    frame, weights, summary = sample_training_set(path, feature_columns, categorical, label, max_rows=max_rows,
                                                  negative_rate=negative_rate, seed=seed, batch_rows=batch_rows)
    numeric = [c for c in feature_columns if c not in categorical]
    model = make_model(model_family, categorical, numeric, learning_rate=learning_rate, max_iter=max_iter,
                       max_leaf_nodes=max_leaf_nodes, seed=seed)
    if summary.negative_rate < 1.0:
        model.fit(frame[feature_columns], frame[label], classifier__sample_weight=weights)
    else:  # nothing sampled: the in-memory fit, unweighted
        model.fit(frame[feature_columns], frame[label])
    return model, summary


def sample_rows(path: str | Path, feature_columns: list[str], categorical: list[str], label: str, *,
                max_rows: int = DEFAULT_MAX_ROWS, seed: int = 0,
                batch_rows: int = BATCH_ROWS) -> tuple[pd.DataFrame, SampleSummary]:
    """A uniform seeded sample of at most about ``max_rows`` rows (every row when there are fewer), read
    batch by batch in compact dtypes; the label keeps its type. For a regression: no class to sample by."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    dataset = ds.dataset(str(path), format="parquet")
    missing = [c for c in [*feature_columns, label] if c not in dataset.schema.names]
    if missing:
        raise ValueError(f"training set {path} has no column(s): {', '.join(missing)}")
    total = dataset.count_rows()
    rate = 1.0 if total <= max_rows else max_rows / total
    rng = np.random.default_rng(seed)
    kept = []
    for batch in dataset.to_batches(columns=[*feature_columns, label], batch_size=batch_rows):
        if rate < 1.0:
            batch = batch.filter(pa.array(rng.random(batch.num_rows) < rate))
        kept.append(_compact(batch, [*categorical, label]))
    frame = (pa.Table.from_batches(kept) if kept else dataset.schema.empty_table()).to_pandas()
    for column in categorical:
        frame[column] = frame[column].astype("category")
    summary = SampleSummary(rows_read=total, positives=0, negatives=0, negatives_kept=0, negative_rate=rate)
    return frame, summary


def train_from_path(path: str | Path, feature_columns: list[str], categorical: list[str], label: str, *,
                    task: str = "binary_classification", max_rows: int = DEFAULT_MAX_ROWS,
                    model_family: str = "hist_gradient_boosting", learning_rate: float = 0.1, max_iter: int = 200,
                    max_leaf_nodes: int = 31, seed: int = 0, batch_rows: int = BATCH_ROWS):
    """The pipeline's training: the Parquet training set read in Arrow batches, at most about
    ``max_rows`` rows kept (a classifier: every positive and weighted negatives; a regression: a uniform
    sample). Returns the fitted Pipeline and what it was fitted on (rows read and kept, sampling rate)."""
    from components.train import make_model

    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, got {max_rows}")
    params = {"model_family": model_family, "learning_rate": learning_rate, "max_iter": max_iter,
              "max_leaf_nodes": max_leaf_nodes, "seed": seed}
    if task == "regression":
        frame, summary = sample_rows(path, feature_columns, categorical, label, max_rows=max_rows, seed=seed,
                                     batch_rows=batch_rows)
        numeric = [c for c in feature_columns if c not in categorical]
        model = make_model(model_family, categorical, numeric, learning_rate=learning_rate, max_iter=max_iter,
                           max_leaf_nodes=max_leaf_nodes, seed=seed, task=task)
        model.fit(frame[feature_columns], frame[label])
        kept = len(frame)
    else:
        model, summary = train_model_bounded(path, feature_columns, categorical, label, max_rows=max_rows,
                                             batch_rows=batch_rows, **params)
        kept = summary.rows_kept
    return model, {"rows_read": summary.rows_read, "rows_kept": kept, "sampling_rate": summary.negative_rate}
