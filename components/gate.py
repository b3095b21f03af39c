"""The champion gate: a challenger replaces the champion only if it is better on the data it will meet.

Both models are scored on the same two holdouts (components/build_training_set.py): the **recent**
one (the newest labelled window, after any drift) decides; the **reference** one (older events the
challenger never trained on) guards against a model that forgot the old pattern.
``decide`` is the whole policy as a plain function; ``gate_challenger`` applies it to the registry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from shipyard.settings import Settings

COMPARED = ("roc_auc", "pr_auc")  # on the recent holdout
GUARDED = "reference_roc_auc"  # on the reference holdout
PROMOTED, REJECTED, EQUAL = "promoted", "rejected", "equal"


@dataclass(frozen=True)
class GateDecision:
    decision: str  # promoted | rejected | equal (not better beyond the tolerance: champion stays)
    reason: str
    champion_before: int | None = None
    champion_metrics: dict[str, float] = field(default_factory=dict)
    moves: dict[str, float] = field(default_factory=dict)  # metric -> challenger minus champion

    @property
    def promote(self) -> bool:
        return self.decision == PROMOTED

    @property
    def verdict(self) -> str:
        return self.decision


def decide(candidate: dict[str, float], champion: dict[str, float] | None, *, min_roc_auc: float,
           min_pr_auc: float, tolerance: float, max_reference_drop: float, champion_version: int | None = None,
           intervals: dict[str, tuple[float, float]] | None = None) -> GateDecision:
    """Thresholds; then better than the champion on the recent holdout by more than ``tolerance`` on a
    compared metric, worse on none, and not worse on the reference holdout by more than
    ``max_reference_drop``. Within the tolerance on every metric the two are equal: no promotion.

    ``intervals`` (metric -> 95% interval of challenger minus champion, from a paired bootstrap on the
    recent holdout) keep chance out: a gain whose interval reaches down to zero counts as equal. A
    small newest window (few positives) then promotes nothing rather than a lucky draw."""
    thresholds = {"roc_auc": min_roc_auc, "pr_auc": min_pr_auc}
    failed = [f"{name} {candidate[name]:.4f} < threshold {limit}" for name, limit in thresholds.items()
              if candidate[name] < limit]
    if failed:
        return GateDecision(REJECTED, "rejected, champion unchanged: " + "; ".join(failed), champion_version,
                            champion or {})
    if champion is None:
        passed = ", ".join(f"{name} {candidate[name]:.4f} >= threshold {limit}" for name, limit in thresholds.items())
        return GateDecision(PROMOTED, f"promoted: {passed}; no champion before", None, {})
    names = [*COMPARED, GUARDED] if GUARDED in candidate and GUARDED in champion else list(COMPARED)
    moves = {name: candidate[name] - champion[name] for name in names}
    moved = "; ".join(f"{name} {champion[name]:.4f} -> {candidate[name]:.4f} ({moves[name]:+.4f})" for name in names)
    versus = f"challenger vs champion v{champion_version}: {moved}"
    if GUARDED in moves and moves[GUARDED] < -max_reference_drop:
        return GateDecision(REJECTED, f"rejected, champion unchanged: forgets the older pattern, {GUARDED} drops "
                            f"by more than {max_reference_drop} ({versus})", champion_version, champion, moves)
    worse = [name for name in COMPARED if moves[name] < -tolerance]
    gains = [name for name in COMPARED if moves[name] > tolerance]
    better = [name for name in gains if intervals is None or intervals[name][0] > 0]
    if worse:
        return GateDecision(REJECTED, f"rejected, champion unchanged: {', '.join(worse)} worse than the champion "
                            f"by more than tolerance {tolerance} on the recent holdout ({versus})",
                            champion_version, champion, moves)
    if not better:
        chance = "; ".join(f"{name} gain within chance (95% interval {intervals[name][0]:+.4f} to "
                           f"{intervals[name][1]:+.4f})" for name in gains) if intervals else ""
        return GateDecision(EQUAL, f"equal, champion unchanged: within tolerance {tolerance} of the champion on "
                            f"the recent holdout{'; ' + chance if chance else ''} ({versus})", champion_version,
                            champion, moves)
    return GateDecision(PROMOTED, f"promoted: {', '.join(better)} better than the champion by more than "
                        f"tolerance {tolerance} on the recent holdout ({versus})", champion_version, champion, moves)


def gate_challenger(settings: Settings, model_name: str, candidate_version: int, holdout_path: str,
                    reference_path: str, label: str, candidate_metrics: dict[str, float], *, min_roc_auc: float,
                    min_pr_auc: float, tolerance: float, max_reference_drop: float) -> GateDecision:
    """Score the champion on the challenger's holdouts, decide, and move ``champion`` if it wins."""
    from shipyard import registry

    client = registry.client(settings)
    champion_version = registry.alias_version(settings, model_name, registry.CHAMPION)
    if champion_version == candidate_version:  # the same run gated again (a retry): nothing to change
        tags = client.get_model_version(model_name, str(candidate_version)).tags
        return GateDecision(PROMOTED, tags.get("shipyard.gate", "promoted: already champion"), champion_version)
    champion_metrics, intervals = None, None
    if champion_version is not None:
        columns = registry.input_columns(settings, model_name, champion_version)
        holdouts = {"": pd.read_parquet(holdout_path), "reference_": pd.read_parquet(reference_path)}
        absent = [c for c in columns if c not in holdouts[""].columns]
        if absent:
            decision = GateDecision(REJECTED, f"rejected, champion unchanged: champion v{champion_version} needs "
                                    f"{', '.join(absent)}, absent from this holdout, so they cannot be compared",
                                    champion_version)
            _record(client, model_name, candidate_version, decision)
            return decision
        champion_model = registry.load_sklearn_model(settings, model_name, champion_version)
        champion_metrics = score_on_holdouts(champion_model, holdouts, columns, label)
        candidate_model = registry.load_sklearn_model(settings, model_name, candidate_version)
        candidate_columns = registry.input_columns(settings, model_name, candidate_version)
        recent = holdouts[""]
        intervals = paired_bootstrap(recent[label].to_numpy(),
                                     candidate_model.predict_proba(recent[candidate_columns])[:, 1],
                                     champion_model.predict_proba(recent[columns])[:, 1])
    decision = decide(candidate_metrics, champion_metrics, min_roc_auc=min_roc_auc, min_pr_auc=min_pr_auc,
                      tolerance=tolerance, max_reference_drop=max_reference_drop, champion_version=champion_version,
                      intervals=intervals)
    _record(client, model_name, candidate_version, decision)
    if decision.promote:
        client.set_registered_model_alias(model_name, registry.CHAMPION, str(candidate_version))
    return decision


def paired_bootstrap(truth: np.ndarray, challenger: np.ndarray, champion: np.ndarray, *, rounds: int = 200,
                     seed: int = 0) -> dict[str, tuple[float, float]]:
    """95% interval of (challenger - champion) ROC AUC and PR AUC over resamples of the same rows."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(seed)
    differences: dict[str, list[float]] = {"roc_auc": [], "pr_auc": []}
    for _ in range(rounds):
        rows = rng.integers(0, len(truth), len(truth))
        sample = truth[rows]
        if sample.min() == sample.max():
            continue
        for name, metric in (("roc_auc", roc_auc_score), ("pr_auc", average_precision_score)):
            differences[name].append(metric(sample, challenger[rows]) - metric(sample, champion[rows]))
    return {name: (float(np.quantile(values, 0.025)), float(np.quantile(values, 0.975)))
            for name, values in differences.items()}


def score_on_holdouts(model, holdouts: dict[str, pd.DataFrame], columns: list[str], label: str) -> dict[str, float]:
    """Headline metrics on each holdout, named with the holdout's prefix ("" recent, "reference_")."""
    from components.evaluate import evaluate_model

    metrics = {}
    for prefix, frame in holdouts.items():
        metrics.update({f"{prefix}{k}": v for k, v in evaluate_model(model, frame, columns, label).items()})
    return metrics


def outputs_metrics(candidate: dict[str, float], decision: GateDecision) -> str:
    """The metrics the gate judged on, as JSON for the gate op's ``metrics`` output (and the promote step)."""
    keys = [*COMPARED, GUARDED]
    return json.dumps({"challenger": {k: round(candidate[k], 6) for k in keys if k in candidate},
                       "champion": {k: round(decision.champion_metrics[k], 6) for k in keys
                                    if k in decision.champion_metrics},
                       "moves": {k: round(v, 6) for k, v in decision.moves.items()}}, sort_keys=True)


def _record(client, model_name: str, version: int, decision: GateDecision) -> None:
    """The decision lives on the model version, so the registry says why a version is (not) champion."""
    tags = {"shipyard.gate": decision.reason, "shipyard.gate.decision": decision.verdict,
            "shipyard.gate.champion_before": str(decision.champion_before or "")}
    tags.update({f"shipyard.gate.champion_{k}": f"{v:.6f}" for k, v in decision.champion_metrics.items()
                 if k in (*COMPARED, GUARDED)})
    tags.update({f"shipyard.gate.move_{k}": f"{v:+.6f}" for k, v in decision.moves.items()})
    for key, value in tags.items():
        client.set_model_version_tag(model_name, str(version), key, value)
