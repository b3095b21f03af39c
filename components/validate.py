"""Validate a training set against the use case's contract before anything is trained on it."""

from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pandas as pd

CHECKS = ("schema", "types", "nulls", "ranges", "row count", "label balance", "freshness", "skew")
# A regression's label is checked for its spread (finite, not constant) instead of a class balance.
REGRESSION_CHECKS = ("schema", "types", "nulls", "ranges", "row count", "label spread", "freshness", "skew")


def checks_for(task: str) -> tuple[str, ...]:
    return REGRESSION_CHECKS if task == "regression" else CHECKS


class DataValidationError(ValueError):
    """The data broke the contract; the message names every violation."""


@dataclass
class ValidationResult:
    rows: int
    positive_rate: float
    violations: list[str] = field(default_factory=list)
    checks: dict[str, list[str]] = field(default_factory=dict)  # check -> its violations ([] = passed)
    notes: list[str] = field(default_factory=list)
    label_summary: str = ""  # a regression's label: mean, spread and range (positive_rate is then 0)

    @property
    def passed(self) -> bool:
        return not self.violations

    def fail(self, check: str, message: str) -> None:
        self.checks.setdefault(check, []).append(message)
        self.violations.append(f"{check}: {message}")

    def markdown(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        label = self.label_summary or f"positive label rate: {self.positive_rate:.4f}"
        lines = [f"# Data validation: {verdict}", "", f"- rows: {self.rows}",
                 f"- {label}", *[f"- {n}" for n in self.notes], "",
                 "| check | result |", "|---|---|"]
        lines += [f"| {check} | {'; '.join(found) if found else 'ok'} |" for check, found in self.checks.items()]
        if self.violations:
            lines += ["", "## Violations", "", *[f"- {v}" for v in self.violations]]
        return "\n".join(lines) + "\n"


def validate_training_set(frame: pd.DataFrame, feature_columns: list[str], *, label: str,
                          bounds: dict[str, tuple[float | None, float | None]], min_rows: int = 200,
                          min_positive_rate: float = 0.001, max_positive_rate: float = 0.5,
                          types: dict[str, str] | None = None, task: str = "binary_classification") -> ValidationResult:
    """Schema, types, nulls, value ranges, row count and the label (a classifier's balance, a regression's
    spread); every problem is listed."""
    regression = task == "regression"
    has_label = label in frame and len(frame) > 0
    positives = float(frame[label].mean()) if has_label and not regression else 0.0
    result = ValidationResult(rows=len(frame), positive_rate=positives)
    for check in checks_for(task)[:6]:
        result.checks[check] = []
    missing = [c for c in [*feature_columns, label] if c not in frame.columns]
    if missing:
        result.fail("schema", f"missing columns: {', '.join(missing)}")
    for column, kind in (types or {}).items():
        if column in frame.columns and not _has_kind(frame[column], kind):
            result.fail("types", f"column {column!r} is {frame[column].dtype}, the contract says {kind}")
    for column in [c for c in [*feature_columns, label] if c in frame.columns]:
        nulls = int(frame[column].isna().sum())
        if nulls:
            result.fail("nulls", f"column {column!r} has {nulls} null values")
    for column, (low, high) in bounds.items():
        if column not in frame.columns or not pd.api.types.is_numeric_dtype(frame[column]):
            continue
        values = frame[column].dropna()
        if low is not None and (values < low).any():
            result.fail("ranges", f"column {column!r} has {(values < low).sum()} values below {low}")
        if high is not None and (values > high).any():
            result.fail("ranges", f"column {column!r} has {(values > high).sum()} values above {high}")
    if len(frame) < min_rows:
        result.fail("row count", f"only {len(frame)} rows, need at least {min_rows}")
    if regression:
        if has_label:
            check_label_spread(result, frame[label])
    elif label in frame.columns and not min_positive_rate <= positives <= max_positive_rate:
        result.fail("label balance", f"positive label rate {positives:.4f} outside "
                    f"[{min_positive_rate}, {max_positive_rate}]")
    return result


def check_label_spread(result: ValidationResult, values: pd.Series) -> None:
    """A regression learns nothing from a label that is not numeric, not finite or the same everywhere."""
    name = values.name
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        result.fail("label spread", f"label {name!r} is {values.dtype}, a regression needs a numeric label")
        return
    known = values.dropna().astype(float)
    infinite = int((~np.isfinite(known)).sum())
    if infinite:
        result.fail("label spread", f"label {name!r} has {infinite} infinite values")
    finite = known[np.isfinite(known)]
    if len(finite):
        result.label_summary = (f"label {name}: mean {finite.mean():.4f}, std {finite.std():.4f}, "
                                f"range [{finite.min():.4f}, {finite.max():.4f}]")
        if finite.nunique() < 2:
            result.fail("label spread", f"label {name!r} is constant ({finite.iloc[0]}): nothing to learn")


def check_freshness(result: ValidationResult, freshness: list, snapshot_time: pd.Timestamp) -> None:
    """Stale features: a view's newest row is older than its TTL at the snapshot time."""
    result.checks.setdefault("freshness", [])
    for view in freshness:
        if view.newest is None:
            result.fail("freshness", f"feature view {view.view!r} has no rows before {snapshot_time}")
            continue
        age = snapshot_time - view.newest
        result.notes.append(f"feature view {view.view}: newest row {view.newest} ({_days(age)} before the snapshot)")
        if view.ttl is not None and age > view.ttl:
            result.fail("freshness", f"stale features: feature view {view.view!r} newest row {view.newest} is "
                        f"{_days(age)} older than the snapshot {snapshot_time}, TTL {_days(view.ttl)}")


def check_skew(result: ValidationResult, skew, max_mismatch_share: float) -> None:
    """Training/serving skew: offline values the model learns from vs what the online store serves."""
    result.checks.setdefault("skew", [])
    if not skew.entities:
        result.fail("skew", "no entities to compare between the offline and online stores")
        return
    result.notes.append(f"skew sample: {skew.entities} entities compared offline vs online")
    if skew.missing_online / skew.entities > max_mismatch_share:
        result.fail("skew", f"{skew.missing_online} of {skew.entities} sampled entities are missing online "
                    "(materialize the online store)")
    for feature, count in skew.mismatched.items():
        if count / skew.entities > max_mismatch_share:
            result.fail("skew", f"feature {feature!r} differs between offline and online for {count} of "
                        f"{skew.entities} sampled entities")


def contract_bounds(use_case, feature_columns: list[str]) -> dict[str, tuple[float | None, float | None]]:
    """Ranges from the request-field contract; spend statistics are counts and amounts (>= 0)."""
    bounds = {f.name: (f.minimum, f.maximum) for f in use_case.model_request_fields if f.kind != "category"}
    return {c: bounds.get(c, (0.0, None)) for c in feature_columns if c not in use_case.categorical_columns()}


def _has_kind(column: pd.Series, kind: str) -> bool:
    if kind == "int":  # nullable integers come back as floats when a value is missing: nulls say that
        return pd.api.types.is_integer_dtype(column) or (
            pd.api.types.is_float_dtype(column) and bool((column.dropna() % 1 == 0).all()))
    if kind == "float":
        return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    return pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column) or (
        isinstance(column.dtype, pd.CategoricalDtype))


def _days(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 86400:.1f} days"


def validate_dataset(settings, train_path: str, feature_columns: list[str], feature_types: dict[str, str],
                     snapshot_time: str, *, min_rows: int, skew_sample: int, max_skew_share: float) -> ValidationResult:
    """Every check of the contract on a built training set, with Feast for freshness and skew."""
    from components import feature_checks
    from shipyard import features
    from shipyard.usecase import load_use_case

    use_case = load_use_case(settings.use_case)
    result = validate_training_set(pd.read_parquet(train_path), feature_columns, label=use_case.label,
                                   bounds=contract_bounds(use_case, feature_columns), min_rows=min_rows,
                                   types=feature_types, task=use_case.task)
    store = features.feature_store(settings)
    snapshot = pd.Timestamp(snapshot_time)
    check_freshness(result, feature_checks.freshness(store, use_case, snapshot), snapshot)
    check_skew(result, feature_checks.online_offline_skew(store, use_case, skew_sample), max_skew_share)
    return result
