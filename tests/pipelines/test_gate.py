"""The champion gate's policy: absolute thresholds, then 'not worse than the champion'."""

import pytest

from components.gate import decide

pytestmark = pytest.mark.unit

LIMITS = {"min_roc_auc": 0.8, "min_pr_auc": 0.2, "tolerance": 0.01}


def test_first_good_model_becomes_champion():
    decision = decide({"roc_auc": 0.9, "pr_auc": 0.4}, None, **LIMITS)
    assert decision.promote and "no champion before" in decision.reason and decision.verdict == "promoted"


@pytest.mark.parametrize("candidate, named", [({"roc_auc": 0.75, "pr_auc": 0.4}, "roc_auc 0.7500 < threshold 0.8"),
                                              ({"roc_auc": 0.9, "pr_auc": 0.1}, "pr_auc 0.1000 < threshold 0.2")])
def test_below_a_threshold_is_rejected_even_without_a_champion(candidate, named):
    decision = decide(candidate, None, **LIMITS)
    assert not decision.promote
    assert "champion unchanged" in decision.reason and named in decision.reason


def test_worse_than_the_champion_beyond_tolerance_is_rejected():
    decision = decide({"roc_auc": 0.90, "pr_auc": 0.40}, {"roc_auc": 0.92, "pr_auc": 0.40}, champion_version=3,
                      **LIMITS)
    assert not decision.promote
    assert "roc_auc 0.9000 is worse than champion v3's 0.9200 by more than tolerance 0.01" in decision.reason
    assert decision.champion_before == 3


def test_within_tolerance_of_the_champion_is_promoted():
    decision = decide({"roc_auc": 0.915, "pr_auc": 0.395}, {"roc_auc": 0.92, "pr_auc": 0.40}, champion_version=3,
                      **LIMITS)
    assert decision.promote and "not worse than champion v3" in decision.reason


def test_zero_tolerance_rejects_any_loss():
    decision = decide({"roc_auc": 0.92, "pr_auc": 0.3999}, {"roc_auc": 0.92, "pr_auc": 0.40}, champion_version=1,
                      min_roc_auc=0.5, min_pr_auc=0.0, tolerance=0.0)
    assert not decision.promote and "pr_auc" in decision.reason
