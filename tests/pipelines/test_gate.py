"""The champion gate's policy: thresholds, then better on the newest window, guarded on the reference."""

import json

import pytest

from components.gate import decide, outputs_metrics

pytestmark = pytest.mark.unit

LIMITS = {"min_roc_auc": 0.8, "min_pr_auc": 0.2, "tolerance": 0.01, "max_reference_drop": 0.05}
CHAMPION = {"roc_auc": 0.80, "pr_auc": 0.30, "reference_roc_auc": 0.92}


def test_first_good_model_becomes_champion():
    decision = decide({"roc_auc": 0.9, "pr_auc": 0.4}, None, **LIMITS)
    assert decision.promote and "no champion before" in decision.reason and decision.verdict == "promoted"


@pytest.mark.parametrize("candidate, named", [({"roc_auc": 0.75, "pr_auc": 0.4}, "roc_auc 0.7500 < threshold 0.8"),
                                              ({"roc_auc": 0.9, "pr_auc": 0.1}, "pr_auc 0.1000 < threshold 0.2")])
def test_below_a_threshold_is_rejected_even_without_a_champion(candidate, named):
    decision = decide(candidate, None, **LIMITS)
    assert not decision.promote
    assert "champion unchanged" in decision.reason and named in decision.reason


def test_better_on_the_newest_window_is_promoted_and_says_by_how_much():
    decision = decide({"roc_auc": 0.95, "pr_auc": 0.60, "reference_roc_auc": 0.91}, CHAMPION, champion_version=3,
                      **LIMITS)
    assert decision.decision == "promoted" and decision.promote
    assert decision.moves == pytest.approx({"roc_auc": 0.15, "pr_auc": 0.30, "reference_roc_auc": -0.01})
    assert "roc_auc 0.8000 -> 0.9500 (+0.1500)" in decision.reason
    assert "pr_auc 0.3000 -> 0.6000 (+0.3000)" in decision.reason
    assert "reference_roc_auc 0.9200 -> 0.9100 (-0.0100)" in decision.reason
    assert "champion v3" in decision.reason


def test_equal_models_are_reported_equal_not_promoted():
    decision = decide(dict(CHAMPION), CHAMPION, champion_version=3, **LIMITS)
    assert decision.decision == "equal" and not decision.promote
    assert decision.reason.startswith("equal, champion unchanged: within tolerance 0.01")
    assert "(+0.0000)" in decision.reason


def test_better_but_only_within_tolerance_is_equal():
    decision = decide({"roc_auc": 0.809, "pr_auc": 0.305, "reference_roc_auc": 0.92}, CHAMPION, champion_version=3,
                      **LIMITS)
    assert decision.decision == "equal"


def test_worse_on_the_newest_window_is_rejected():
    decision = decide({"roc_auc": 0.85, "pr_auc": 0.25, "reference_roc_auc": 0.92}, CHAMPION, champion_version=3,
                      **{**LIMITS, "min_pr_auc": 0.1})
    assert decision.decision == "rejected" and "pr_auc worse than the champion by more than tolerance 0.01" in \
        decision.reason


def test_forgetting_the_older_pattern_is_rejected_even_when_better_on_the_newest_window():
    decision = decide({"roc_auc": 0.95, "pr_auc": 0.60, "reference_roc_auc": 0.80}, CHAMPION, champion_version=3,
                      **LIMITS)
    assert decision.decision == "rejected" and "forgets the older pattern" in decision.reason
    assert "reference_roc_auc 0.9200 -> 0.8000 (-0.1200)" in decision.reason


def test_gate_metrics_output_names_both_models_and_the_moves():
    candidate = {"roc_auc": 0.95, "pr_auc": 0.60, "reference_roc_auc": 0.91, "brier_score": 0.01}
    decision = decide(candidate, CHAMPION, champion_version=3, **LIMITS)
    metrics = json.loads(outputs_metrics(candidate, decision))
    assert metrics["challenger"] == {"roc_auc": 0.95, "pr_auc": 0.6, "reference_roc_auc": 0.91}
    assert metrics["champion"] == CHAMPION and metrics["moves"]["roc_auc"] == pytest.approx(0.15)


def test_a_gain_within_chance_is_equal_not_promoted():
    candidate = {"roc_auc": 0.86, "pr_auc": 0.35, "reference_roc_auc": 0.92}
    decision = decide(candidate, CHAMPION, champion_version=3, **LIMITS,
                      intervals={"roc_auc": (-0.02, 0.13), "pr_auc": (-0.10, 0.20)})
    assert decision.decision == "equal"
    assert "roc_auc gain within chance (95% interval -0.0200 to +0.1300)" in decision.reason
    sure = decide(candidate, CHAMPION, champion_version=3, **LIMITS,
                  intervals={"roc_auc": (0.01, 0.13), "pr_auc": (-0.10, 0.20)})
    assert sure.decision == "promoted" and sure.reason.startswith("promoted: roc_auc better")


def test_paired_bootstrap_brackets_a_real_gain_and_straddles_none():
    import numpy as np

    from components.gate import paired_bootstrap

    rng = np.random.default_rng(1)
    truth = (rng.random(2_000) < 0.1).astype(int)
    good = truth + rng.normal(0, 0.5, 2_000)
    noise = rng.normal(0, 1, 2_000)
    gain = paired_bootstrap(truth, good, noise, rounds=100)
    assert gain["roc_auc"][0] > 0.2 and gain["pr_auc"][0] > 0.2
    assert paired_bootstrap(truth, good, good, rounds=50) == {"roc_auc": (0.0, 0.0), "pr_auc": (0.0, 0.0)}
