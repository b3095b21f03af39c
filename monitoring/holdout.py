"""The served version's quality when it was promoted, on its holdout, from MLflow.

A classifier's is its ROC AUC and recall; a regressor's its mean absolute error (in the label's
unit). The monitor exports them beside the live window's quality (monitoring/labels.py), so an alert
can fire on a drop against the model's own level, not only past a fixed threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

from shipyard import registry
from shipyard.settings import Settings

# Metric names the training pipeline logs on the version's run (components/evaluate.py).
ROC_AUC, RECALL, MAE = "roc_auc", "recall_at_alert_rate", "mae"


@dataclass(frozen=True)
class HoldoutQuality:
    roc_auc: float
    recall: float  # at the alert rate, like shipyard_model_recall


@dataclass(frozen=True)
class HoldoutError:
    mae: float  # a regressor's mean absolute error on its holdout, like shipyard_model_mae


def holdout_quality(settings: Settings, model_name: str, version: int,
                    regression: bool = False) -> HoldoutQuality | HoldoutError | None:
    """The version's holdout metrics from its MLflow run, or None when the run did not log them."""
    client = registry.client(settings)
    run_id = client.get_model_version(model_name, str(version)).run_id
    logged = client.get_run(run_id).data.metrics if run_id else {}
    if regression:
        return HoldoutError(float(logged[MAE])) if MAE in logged else None
    if ROC_AUC not in logged or RECALL not in logged:
        return None
    return HoldoutQuality(float(logged[ROC_AUC]), float(logged[RECALL]))
