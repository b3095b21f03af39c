"""`promote` / `rollback` in a temporary Git repository: one-line diffs, commits, branches, and the
user's checkout left exactly as it was."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from shipyard import gitops

pytestmark = pytest.mark.unit

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
MODEL = "fraud"  # the model the committed overlays pin


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


@pytest.fixture()
def repo(tmp_path, monkeypatch) -> Path:
    """A fresh repository holding a copy of manifests/ on main, with no user git config."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    root = tmp_path / "repo"
    shutil.copytree(MANIFESTS / "overlays", root / "manifests" / "overlays")
    git(root.parent, "init", "-q", "-b", "main", str(root))
    git(root, "add", ".")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "initial")
    return root


def numstat(repo: Path, rev: str = "HEAD") -> list[tuple[int, int, str]]:
    out = git(repo, "diff", f"{rev}~1", rev, "--numstat")
    return [(int(a), int(d), p) for a, d, p in (line.split("\t") for line in out.splitlines())]


def pinned(repo: Path, env: str, ref: str) -> int:
    return gitops._parse_version(git(repo, "show", f"{ref}:{gitops.version_file(env)}"), ref)


def checkout_state(repo: Path) -> tuple[str, str, str]:
    """What the user sees: the branch checked out, its commit, and the working tree status."""
    return (git(repo, "rev-parse", "--abbrev-ref", "HEAD"), git(repo, "rev-parse", "HEAD"),
            git(repo, "status", "--porcelain"))


def test_promote_changes_one_line_in_one_commit_on_a_branch_without_switching_the_checkout(repo):
    before, state = gitops.read_version(repo, "dev"), checkout_state(repo)
    info = gitops.promote(repo, "dev", before + 4, model=MODEL, metrics={"roc_auc": 0.9312},
                          run_id="run-42", reason="promoted: roc_auc 0.93 >= threshold 0.8")
    assert checkout_state(repo) == state  # still on main, same commit, clean
    assert gitops.read_version(repo, "dev") == before  # the working tree is untouched
    assert info.branch == f"promote/dev/fraud-v{before + 4}" and info.changed
    assert numstat(repo, info.branch) == [(1, 1, "manifests/overlays/dev/model-version.yaml")]
    assert info.sha == git(repo, "rev-parse", info.branch).strip()
    assert (info.old_value, info.new_value) == (before, before + 4)
    assert git(repo, "rev-list", "--count", f"main..{info.branch}").strip() == "1"
    message = git(repo, "log", "-1", "--format=%B", info.branch)
    for expected in ("promote(dev): fraud v", "Model: fraud", f"Version: {before + 4} (previously {before})",
                     "Pipeline run: run-42", "roc_auc=0.9312", "Reason: promoted: roc_auc 0.93",
                     "Shipyard-Action: promote"):
        assert expected in message
    diff = git(repo, "diff", f"{info.branch}~1", info.branch, "--unified=0")
    assert f'-  SHIPYARD_MODEL_VERSION: "{before}"' in diff
    assert f'+  SHIPYARD_MODEL_VERSION: "{before + 4}"' in diff
    assert pinned(repo, "dev", info.branch) == before + 4
    assert git(repo, "worktree", "list").count("\n") == 1  # the temporary worktree is gone


def test_promoting_the_pinned_version_is_a_no_op(repo):
    current = gitops.read_version(repo, "dev")
    info = gitops.promote(repo, "dev", current, model=MODEL)
    assert not info.changed and "already pins" in info.describe()
    assert git(repo, "branch", "--list").split() == ["*", "main"]  # no empty branch left behind
    first = gitops.promote(repo, "dev", current + 1, model=MODEL)
    again = gitops.promote(repo, "dev", current + 1, model=MODEL)
    assert first.changed and not again.changed and again.sha == first.sha
    assert git(repo, "rev-list", "--count", f"main..{first.branch}").strip() == "1"


def test_promote_refuses_the_branch_checked_out(repo):
    with pytest.raises(gitops.GitOpsError, match="checked out"):
        gitops.promote(repo, "dev", 77, model=MODEL, branch="main")
    assert git(repo, "rev-list", "--count", "HEAD").strip() == "1"


def test_rollback_restores_the_previous_line(repo):
    original = git(repo, "show", "main:manifests/overlays/prod/model-version.yaml")
    gitops.promote(repo, "prod", 7, model=MODEL, branch="release")
    info = gitops.rollback(repo, "prod", model=MODEL, branch="release", reason="bad canary")
    assert numstat(repo, "release") == [(1, 1, "manifests/overlays/prod/model-version.yaml")]
    assert git(repo, "show", "release:manifests/overlays/prod/model-version.yaml") == original
    assert info.new_value == pinned(repo, "prod", "release") != 7
    assert "Shipyard-Action: rollback" in info.message and "Reason: bad canary" in info.message
    assert info.branch == "release"


def test_repeated_rollbacks_walk_back_through_promotions(repo):
    start = gitops.read_version(repo, "dev")
    for version in (start + 1, start + 2, start + 3):
        gitops.promote(repo, "dev", version, model=MODEL, branch="train")
    assert gitops.version_history(repo, "dev", "train") == [start, start + 1, start + 2, start + 3]
    assert gitops.rollback(repo, "dev", model=MODEL, branch="train").new_value == start + 2
    assert gitops.rollback(repo, "dev", model=MODEL, branch="train").new_value == start + 1  # not start + 3
    assert gitops.version_history(repo, "dev", "train") == [start, start + 1]


def test_rollback_without_history_refuses(repo):
    with pytest.raises(gitops.GitOpsError, match="no earlier"):
        gitops.rollback(repo, "staging", model=MODEL)


def test_promote_refuses_unknown_env_bad_version_dirty_file_and_other_model(repo):
    with pytest.raises(gitops.GitOpsError, match="unknown environment"):
        gitops.promote(repo, "qa", 5, model=MODEL)
    with pytest.raises(gitops.GitOpsError, match="start at 1"):
        gitops.promote(repo, "dev", 0, model=MODEL)
    with pytest.raises(gitops.GitOpsError, match="pins model 'fraud'"):
        gitops.promote(repo, "prod", 99, model="churn")
    path = repo / "manifests/overlays/dev/model-version.yaml"
    path.write_text(path.read_text() + "# local edit\n")
    with pytest.raises(gitops.GitOpsError, match="uncommitted"):
        gitops.promote(repo, "dev", 99, model=MODEL)
    assert git(repo, "rev-list", "--count", "--all").strip() == "1"
    assert git(repo, "branch", "--list").split() == ["*", "main"]


def test_canary_env_promotion_is_one_commit_when_the_canary_is_armed(repo):
    current, armed = gitops.read_canary_percent(repo, "prod")
    assert current == armed < 100
    info = gitops.promote(repo, "prod", 9, model=MODEL)
    assert info.preceding == ()
    assert numstat(repo, info.branch) == [(1, 1, "manifests/overlays/prod/model-version.yaml")]


def test_canary_rollout_then_next_promotion_rearms_in_a_separate_one_line_commit(repo):
    gitops.promote(repo, "prod", 9, model=MODEL, branch="prod-work")
    verdict = gitops.Verdict("promote", ("fine",))
    rolled = gitops.apply_verdict(repo, "prod", verdict, model=MODEL, branch="prod-work")
    assert numstat(repo, "prod-work") == [(1, 1, "manifests/overlays/prod/canary.yaml")]
    assert "canaryTrafficPercent: 100" in git(repo, "show", "prod-work:manifests/overlays/prod/canary.yaml")
    assert rolled.new_value == 100 and rolled.changed
    assert not gitops.apply_verdict(repo, "prod", verdict, model=MODEL, branch="prod-work").changed
    info = gitops.promote(repo, "prod", 10, model=MODEL, branch="prod-work")
    assert len(info.preceding) == 1
    assert numstat(repo, "prod-work") == [(1, 1, "manifests/overlays/prod/model-version.yaml")]
    assert numstat(repo, info.preceding[0]) == [(1, 1, "manifests/overlays/prod/canary.yaml")]
    canary = git(repo, "show", "prod-work:manifests/overlays/prod/canary.yaml")
    assert "canaryTrafficPercent: 10" in canary  # the armed percent of prod


def test_rollback_verdict_commits_the_previous_version(repo):
    before = gitops.read_version(repo, "staging")
    gitops.promote(repo, "staging", before + 1, model=MODEL, branch="s")
    info = gitops.apply_verdict(repo, "staging", gitops.Verdict("rollback", ("errors",)), model=MODEL,
                                branch="s")
    assert info.new_value == before and pinned(repo, "staging", "s") == before
    assert "canary verdict: errors" in info.message
    assert gitops.apply_verdict(repo, "staging", gitops.Verdict("wait"), model=MODEL, branch="s") is None


def test_a_second_use_case_is_promoted_in_its_own_pin_by_the_same_logic(repo):
    """delivery's pin is model-version-delivery.yaml: promotion and rollback change that one line,
    never the fraud pin, and delivery runs without a canary (the overlay's canary.yaml is fraud's)."""
    fraud = {env: gitops.read_version(repo, env, "fraud") for env in gitops.ENVIRONMENTS}
    assert gitops.pin_path(repo, "prod", "fraud") == gitops.version_file("prod")
    assert gitops.pin_path(repo, "prod", "delivery") == Path("manifests/overlays/prod/model-version-delivery.yaml")
    before = gitops.read_version(repo, "prod", "delivery")
    info = gitops.promote(repo, "prod", before + 3, model="delivery", branch="delivery-work")
    assert info.changed and info.preceding == () and info.branch == "delivery-work"
    assert numstat(repo, "delivery-work") == [(1, 1, "manifests/overlays/prod/model-version-delivery.yaml")]
    assert "promote(prod): delivery v" in info.message and "Model: delivery" in info.message
    assert gitops.version_history(repo, "prod", "delivery-work", model="delivery") == [before, before + 3]
    assert gitops.version_history(repo, "prod", "delivery-work") == [fraud["prod"]]  # fraud's pin: untouched
    assert gitops.read_canary_percent(repo, "prod", "delivery") is None
    assert gitops.read_canary_percent(repo, "prod", "fraud") is not None
    back = gitops.rollback(repo, "prod", model="delivery", branch="delivery-work")
    assert back.new_value == before
    assert numstat(repo, "delivery-work") == [(1, 1, "manifests/overlays/prod/model-version-delivery.yaml")]
    with pytest.raises(gitops.GitOpsError, match="without a canary"):
        gitops.apply_verdict(repo, "prod", gitops.Verdict("promote", ("fine",)), model="delivery",
                             branch="delivery-work")
    assert {env: gitops.read_version(repo, env, "fraud") for env in gitops.ENVIRONMENTS} == fraud


def test_a_model_without_a_pin_is_refused_with_where_to_get_one(repo):
    with pytest.raises(gitops.GitOpsError, match="no pin for model 'churn'.*manifests-generate"):
        gitops.promote(repo, "dev", 3, model="churn")
    assert git(repo, "branch", "--list").split() == ["*", "main"]
