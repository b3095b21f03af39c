"""Validate a training set against the use case's contract before anything is trained on it."""

from dataclasses import dataclass, field

import pandas as pd


class DataValidationError(ValueError):
    """The data broke the contract; the message names every violation."""


@dataclass
class ValidationResult:
    rows: int
    positive_rate: float
    violations: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.violations

    def markdown(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [f"# Data validation: {verdict}", "", f"- rows: {self.rows}",
                 f"- positive label rate: {self.positive_rate:.4f}", ""]
        if self.violations:
            lines += ["## Violations", "", *[f"- {v}" for v in self.violations]]
        return "\n".join(lines) + "\n"


def validate_training_set(frame: pd.DataFrame, feature_columns: list[str], *, label: str,
                          bounds: dict[str, tuple[float | None, float | None]], min_rows: int = 200,
                          min_positive_rate: float = 0.001, max_positive_rate: float = 0.5) -> ValidationResult:
    """Schema, nulls, value ranges, row count and label balance; every problem is listed."""
    positives = float(frame[label].mean()) if label in frame and len(frame) else 0.0
    result = ValidationResult(rows=len(frame), positive_rate=positives)
    missing = [c for c in [*feature_columns, label] if c not in frame.columns]
    if missing:
        result.violations.append(f"missing columns: {', '.join(missing)}")
    for column in [c for c in [*feature_columns, label] if c in frame.columns]:
        nulls = int(frame[column].isna().sum())
        if nulls:
            result.violations.append(f"column {column!r} has {nulls} null values")
    for column, (low, high) in bounds.items():
        if column not in frame.columns or not pd.api.types.is_numeric_dtype(frame[column]):
            continue
        values = frame[column].dropna()
        if low is not None and (values < low).any():
            result.violations.append(f"column {column!r} has {(values < low).sum()} values below {low}")
        if high is not None and (values > high).any():
            result.violations.append(f"column {column!r} has {(values > high).sum()} values above {high}")
    if len(frame) < min_rows:
        result.violations.append(f"only {len(frame)} rows, need at least {min_rows}")
    if label in frame.columns and not min_positive_rate <= positives <= max_positive_rate:
        result.violations.append(f"positive label rate {positives:.4f} outside "
                                 f"[{min_positive_rate}, {max_positive_rate}]")
    return result


def contract_bounds(feature_columns: list[str]) -> dict[str, tuple[float | None, float | None]]:
    """Ranges from the request-field contract; spend statistics are counts and amounts (>= 0)."""
    from shipyard.settings import get_settings
    from shipyard.usecase import load_use_case

    use_case = load_use_case(get_settings().use_case)
    bounds = {f.name: (f.minimum, f.maximum) for f in use_case.model_request_fields if f.kind != "category"}
    return {c: bounds.get(c, (0.0, None)) for c in feature_columns if c not in use_case.categorical_columns()}
