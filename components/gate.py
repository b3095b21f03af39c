"""The champion gate: a challenger replaces the champion only if it is better on the data it will meet.

Both models are scored on the same two holdouts (components/build_training_set.py): the **recent**
one (the newest labelled window, after any drift) decides; the **reference** one (older events the
challenger never trained on) guards against a model that forgot the old pattern.
``decide`` (classification) and ``decide_regression`` are the whole policy as plain functions;
``gate_challenger`` applies the use case's to the registry.

For a regression lower error is better: the challenger must be within the absolute MAE threshold and
beat a constant prediction, then be better than the champion on the recent holdout by more than the
tolerance, read as a share of the champion's error (0.01: 1% lower MAE or RMSE), and not worse on the
reference holdout by more than ``max_reference_drop`` of the champion's reference MAE.
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
REGRESSION_COMPARED = ("mae", "rmse")  # errors: lower is better
REGRESSION_GUARDED = "reference_mae"
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


def decide_regression(candidate: dict[str, float], champion: dict[str, float] | None, *, max_mae: float | None,
                      tolerance: float, max_reference_drop: float, champion_version: int | None = None,
                      intervals: dict[str, tuple[float, float]] | None = None) -> GateDecision:
    """The gate for a regression (lower error is better). ``max_mae`` None: no absolute MAE threshold;
    the MAE must still be below ``baseline_mae`` (a constant prediction). ``tolerance`` and
    ``max_reference_drop`` are shares of the champion's error; ``intervals`` (metric -> 95% interval
    of challenger minus champion error) count a gain only when the whole interval is below zero."""
    failed = []
    if max_mae is not None and candidate["mae"] > max_mae:
        failed.append(f"mae {candidate['mae']:.4f} > threshold {max_mae}")
    if "baseline_mae" in candidate and candidate["mae"] >= candidate["baseline_mae"]:
        failed.append(f"mae {candidate['mae']:.4f} no better than a constant prediction "
                      f"(baseline_mae {candidate['baseline_mae']:.4f})")
    if failed:
        return GateDecision(REJECTED, "rejected, champion unchanged: " + "; ".join(failed), champion_version,
                            champion or {})
    if champion is None:
        passed = [f"mae {candidate['mae']:.4f} <= threshold {max_mae}"] if max_mae is not None else []
        if "baseline_mae" in candidate:
            passed.append(f"below baseline_mae {candidate['baseline_mae']:.4f}")
        return GateDecision(PROMOTED, f"promoted: {', '.join(passed) or 'no threshold'}; no champion before", None,
                            {})
    compared = list(REGRESSION_COMPARED)
    guarded = REGRESSION_GUARDED in candidate and REGRESSION_GUARDED in champion
    names = [*compared, REGRESSION_GUARDED] if guarded else compared
    moves = {name: candidate[name] - champion[name] for name in names}
    relative = {name: moves[name] / champion[name] if champion[name] else 0.0 for name in names}
    moved = "; ".join(f"{name} {champion[name]:.4f} -> {candidate[name]:.4f} ({moves[name]:+.4f}, "
                      f"{relative[name]:+.2%})" for name in names)
    versus = f"challenger vs champion v{champion_version}: {moved}"
    if guarded and relative[REGRESSION_GUARDED] > max_reference_drop:
        return GateDecision(REJECTED, f"rejected, champion unchanged: forgets the older pattern, "
                            f"{REGRESSION_GUARDED} rises by more than {max_reference_drop:.1%} ({versus})",
                            champion_version, champion, moves)
    worse = [name for name in compared if relative[name] > tolerance]
    gains = [name for name in compared if relative[name] < -tolerance]
    better = [name for name in gains if intervals is None or intervals[name][1] < 0]
    if worse:
        return GateDecision(REJECTED, f"rejected, champion unchanged: {', '.join(worse)} worse than the champion "
                            f"by more than tolerance {tolerance:.1%} on the recent holdout ({versus})",
                            champion_version, champion, moves)
    if not better:
        chance = "; ".join(f"{name} gain within chance (95% interval {intervals[name][0]:+.4f} to "
                           f"{intervals[name][1]:+.4f})" for name in gains) if intervals else ""
        return GateDecision(EQUAL, f"equal, champion unchanged: within tolerance {tolerance:.1%} of the champion "
                            f"on the recent holdout{'; ' + chance if chance else ''} ({versus})", champion_version,
                            champion, moves)
    return GateDecision(PROMOTED, f"promoted: {', '.join(better)} lower than the champion's by more than "
                        f"tolerance {tolerance:.1%} on the recent holdout ({versus})", champion_version, champion,
                        moves)


def judged_metrics(metrics: dict[str, float]) -> tuple[str, ...]:
    """The metrics the gate compares for the task these metrics come from."""
    if "mae" in metrics and "roc_auc" not in metrics:
        return (*REGRESSION_COMPARED, REGRESSION_GUARDED)
    return (*COMPARED, GUARDED)


def gate_challenger(settings: Settings, model_name: str, candidate_version: int, holdout_path: str,
                    reference_path: str, label: str, candidate_metrics: dict[str, float], *, min_roc_auc: float,
                    min_pr_auc: float, tolerance: float, max_reference_drop: float,
                    task: str = "binary_classification", max_mae: float | None = None) -> GateDecision:
    """Score the champion on the challenger's holdouts, decide, and move ``champion`` if it wins.

    ``task`` chooses the policy: ``decide`` (``min_roc_auc``, ``min_pr_auc``) or ``decide_regression``
    (``max_mae``)."""
    from components.train import predictions_of
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
        champion_metrics = score_on_holdouts(champion_model, holdouts, columns, label, task)
        candidate_model = registry.load_sklearn_model(settings, model_name, candidate_version)
        candidate_columns = registry.input_columns(settings, model_name, candidate_version)
        recent = holdouts[""]
        bootstrap = paired_bootstrap_errors if task == "regression" else paired_bootstrap
        intervals = bootstrap(recent[label].to_numpy(),
                              predictions_of(candidate_model, recent, candidate_columns, task),
                              predictions_of(champion_model, recent, columns, task))
    if task == "regression":
        decision = decide_regression(candidate_metrics, champion_metrics, max_mae=max_mae, tolerance=tolerance,
                                     max_reference_drop=max_reference_drop, champion_version=champion_version,
                                     intervals=intervals)
    else:
        decision = decide(candidate_metrics, champion_metrics, min_roc_auc=min_roc_auc, min_pr_auc=min_pr_auc,
                          tolerance=tolerance, max_reference_drop=max_reference_drop,
                          champion_version=champion_version, intervals=intervals)
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


def paired_bootstrap_errors(truth: np.ndarray, challenger: np.ndarray, champion: np.ndarray, *, rounds: int = 200,
                            seed: int = 0) -> dict[str, tuple[float, float]]:
    """95% interval of (challenger - champion) MAE and RMSE over resamples of the same rows."""
    rng = np.random.default_rng(seed)
    challenger_error, champion_error = challenger - truth, champion - truth
    differences: dict[str, list[float]] = {"mae": [], "rmse": []}
    for _ in range(rounds):
        rows = rng.integers(0, len(truth), len(truth))
        ours, theirs = challenger_error[rows], champion_error[rows]
        differences["mae"].append(float(np.abs(ours).mean() - np.abs(theirs).mean()))
        differences["rmse"].append(float(np.sqrt((ours ** 2).mean()) - np.sqrt((theirs ** 2).mean())))
    return {name: (float(np.quantile(values, 0.025)), float(np.quantile(values, 0.975)))
            for name, values in differences.items()}


def score_on_holdouts(model, holdouts: dict[str, pd.DataFrame], columns: list[str], label: str,
                      task: str = "binary_classification") -> dict[str, float]:
    """Headline metrics on each holdout, named with the holdout's prefix ("" recent, "reference_")."""
    from components.evaluate import evaluate_model

    metrics = {}
    for prefix, frame in holdouts.items():
        metrics.update({f"{prefix}{k}": v for k, v in evaluate_model(model, frame, columns, label,
                                                                     task=task).items()})
    return metrics


def outputs_metrics(candidate: dict[str, float], decision: GateDecision) -> str:
    """The metrics the gate judged on, as JSON for the gate op's ``metrics`` output (and the promote step)."""
    keys = judged_metrics(candidate)
    return json.dumps({"challenger": {k: round(candidate[k], 6) for k in keys if k in candidate},
                       "champion": {k: round(decision.champion_metrics[k], 6) for k in keys
                                    if k in decision.champion_metrics},
                       "moves": {k: round(v, 6) for k, v in decision.moves.items()}}, sort_keys=True)


def _record(client, model_name: str, version: int, decision: GateDecision) -> None:
    """The decision lives on the model version, so the registry says why a version is (not) champion."""
    tags = {"shipyard.gate": decision.reason, "shipyard.gate.decision": decision.verdict,
            "shipyard.gate.champion_before": str(decision.champion_before or "")}
    judged = judged_metrics(decision.champion_metrics)
    tags.update({f"shipyard.gate.champion_{k}": f"{v:.6f}" for k, v in decision.champion_metrics.items()
                 if k in judged})
    tags.update({f"shipyard.gate.move_{k}": f"{v:+.6f}" for k, v in decision.moves.items()})
    for key, value in tags.items():
        client.set_model_version_tag(model_name, str(version), key, value)
