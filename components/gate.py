"""The champion gate: a challenger becomes champion only if it is good enough and not worse.

``decide`` is the whole policy as a plain function; ``gate_challenger`` applies it to the registry,
comparing both models on the same holdout so the comparison is fair.
"""

from dataclasses import dataclass, field

import pandas as pd

from shipyard.settings import Settings

COMPARED = ("roc_auc", "pr_auc")


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str
    champion_before: int | None = None
    champion_metrics: dict[str, float] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return "promoted" if self.promote else "rejected"


def decide(candidate: dict[str, float], champion: dict[str, float] | None, *, min_roc_auc: float,
           min_pr_auc: float, tolerance: float, champion_version: int | None = None) -> GateDecision:
    """Absolute thresholds first, then 'not worse than the champion by more than ``tolerance``'."""
    thresholds = {"roc_auc": min_roc_auc, "pr_auc": min_pr_auc}
    failed = [f"{name} {candidate[name]:.4f} < threshold {limit}" for name, limit in thresholds.items()
              if candidate[name] < limit]
    passed = ", ".join(f"{name} {candidate[name]:.4f} >= threshold {limit}" for name, limit in thresholds.items())
    if failed:
        return GateDecision(False, "rejected, champion unchanged: " + "; ".join(failed), champion_version,
                            champion or {})
    if champion is None:
        return GateDecision(True, f"promoted: {passed}; no champion before", None, {})
    worse = [f"{name} {candidate[name]:.4f} is worse than champion v{champion_version}'s {champion[name]:.4f} "
             f"by more than tolerance {tolerance}" for name in COMPARED if candidate[name] < champion[name] - tolerance]
    if worse:
        return GateDecision(False, "rejected, champion unchanged: " + "; ".join(worse), champion_version, champion)
    versus = ", ".join(f"{name} {champion[name]:.4f}" for name in COMPARED)
    return GateDecision(True, f"promoted: {passed}; not worse than champion v{champion_version} ({versus}) "
                        f"on the same holdout within tolerance {tolerance}", champion_version, champion)


def gate_challenger(settings: Settings, model_name: str, candidate_version: int, holdout_path: str, label: str,
                    candidate_metrics: dict[str, float], *, min_roc_auc: float, min_pr_auc: float,
                    tolerance: float) -> GateDecision:
    """Compare the challenger with the current champion and move the ``champion`` alias if it wins."""
    from components.evaluate import evaluate_model
    from shipyard import registry
    client = registry.client(settings)
    champion_version = registry.alias_version(settings, model_name, registry.CHAMPION)
    if champion_version == candidate_version:  # the same run gated again (a retry): nothing to change
        tags = client.get_model_version(model_name, str(candidate_version)).tags
        return GateDecision(True, tags.get("shipyard.gate", "promoted: already champion"), champion_version)
    champion_metrics = None
    if champion_version is not None:
        holdout = pd.read_parquet(holdout_path)
        columns = registry.input_columns(settings, model_name, champion_version)
        absent = [c for c in columns if c not in holdout.columns]
        if absent:
            decision = GateDecision(False, f"rejected, champion unchanged: champion v{champion_version} needs "
                                    f"{', '.join(absent)}, absent from this holdout, so they cannot be compared",
                                    champion_version)
            _record(client, model_name, candidate_version, decision)
            return decision
        champion_model = registry.load_sklearn_model(settings, model_name, champion_version)
        champion_metrics = evaluate_model(champion_model, holdout, columns, label)
    decision = decide(candidate_metrics, champion_metrics, min_roc_auc=min_roc_auc, min_pr_auc=min_pr_auc,
                      tolerance=tolerance, champion_version=champion_version)
    _record(client, model_name, candidate_version, decision)
    if decision.promote:
        client.set_registered_model_alias(model_name, registry.CHAMPION, str(candidate_version))
    return decision


def _record(client, model_name: str, version: int, decision: GateDecision) -> None:
    """The decision lives on the model version, so the registry says why a version is (not) champion."""
    tags = {"shipyard.gate": decision.reason, "shipyard.gate.decision": decision.verdict,
            "shipyard.gate.champion_before": str(decision.champion_before or "")}
    tags.update({f"shipyard.gate.champion_{k}": f"{v:.6f}" for k, v in decision.champion_metrics.items()
                 if k in COMPARED})
    for key, value in tags.items():
        client.set_model_version_tag(model_name, str(version), key, value)
