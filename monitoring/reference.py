"""The drift reference of a model version, prepared once per version and cached on disk.

The reference is the training set the version was fit on, found through MLflow lineage (the run's
``reference/training_set.parquet``), never a path in config. Once per version it is sampled to a
bounded size and scored by the model itself (a classifier's probability, a regressor's predicted
value), so prediction drift compares like with like; every
later drift run of that version reads the small cached snapshot instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from shipyard import registry
from shipyard.settings import Settings
from shipyard.usecase import UseCase

REFERENCE_SAMPLE_ROWS = 50_000
SCORE = "score"  # the prediction log's column, and the reference's, holding the model's score


@dataclass(frozen=True)
class Reference:
    model_version: int
    columns: list[str]  # model inputs, in the order of the model's signature
    categorical: list[str]
    frame: pd.DataFrame  # inputs, the label and the model's score
    rows: int  # rows of the full training set

    @property
    def numerical(self) -> list[str]:
        return [c for c in self.columns if c not in self.categorical]


def snapshot_path(settings: Settings, model_name: str, version: int, run_id: str) -> Path:
    """Keyed by the version's run too: a fresh registry numbers its first model 1 again, and that model's
    reference must not be an older registry's version 1 left in the cache."""
    return settings.home / "cache" / f"reference-{model_name}-v{version}-{run_id}" / "snapshot.parquet"


def build_snapshot(training_set: pd.DataFrame, columns: list[str], label: str, model,
                   sample_rows: int = REFERENCE_SAMPLE_ROWS, seed: int = 0, regression: bool = False) -> pd.DataFrame:
    """A uniform sample of the training set with the model's scores (deterministic for a seed)."""
    sample = training_set.sample(n=min(sample_rows, len(training_set)), random_state=seed).sort_index()
    kept = [c for c in [*columns, label] if c in sample.columns]
    frame = sample[kept].reset_index(drop=True)
    frame[SCORE] = model.predict(sample[columns]) if regression else model.predict_proba(sample[columns])[:, 1]
    return frame


def load_reference(settings: Settings, use_case: UseCase, version: int) -> Reference:
    """The cached snapshot of ``version``, built on the first call for that version."""
    columns = registry.input_columns(settings, use_case.model_name, version)
    categorical = [c for c in columns if c in use_case.categorical_columns()]
    path = snapshot_path(settings, use_case.model_name, version,
                         registry.run_id(settings, use_case.model_name, version))
    rows_path = path.with_name("rows.txt")
    if not path.exists():
        training_set = registry.reference_data(settings, use_case.model_name, version, path.parent / "download")
        model = registry.load_sklearn_model(settings, use_case.model_name, version)
        frame = build_snapshot(training_set, columns, use_case.label, model, regression=use_case.is_regression)
        temporary = path.with_suffix(".tmp")
        frame.to_parquet(temporary, index=False)
        rows_path.write_text(str(len(training_set)))
        temporary.replace(path)  # a half-written snapshot is never read
    frame = pd.read_parquet(path)
    rows = int(rows_path.read_text()) if rows_path.exists() else len(frame)
    return Reference(version, columns, categorical, frame, rows)
