"""`promote` / `rollback` in a temporary Git repository: one-line diffs, commits, branches."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from shipyard import gitops

pytestmark = pytest.mark.unit

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"


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


def test_promote_changes_one_line_in_one_commit_on_a_branch(repo):
    before = gitops.read_version(repo, "dev")
    info = gitops.promote(repo, "dev", before + 4, model="fraud", metrics={"roc_auc": 0.9312},
                          run_id="run-42")
    assert numstat(repo) == [(1, 1, "manifests/overlays/dev/model-version.yaml")]
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == f"promote/dev/fraud-v{before + 4}"
    assert info.branch == f"promote/dev/fraud-v{before + 4}"
    assert info.sha == git(repo, "rev-parse", "HEAD").strip()
    assert (info.old_value, info.new_value) == (before, before + 4)
    assert git(repo, "rev-list", "--count", "main..HEAD").strip() == "1"
    message = git(repo, "log", "-1", "--format=%B")
    for expected in ("promote(dev): fraud v", "Model: fraud", f"Version: {before + 4} (previously {before})",
                     "Pipeline run: run-42", "roc_auc=0.9312", "Shipyard-Action: promote"):
        assert expected in message
    diff = git(repo, "diff", "HEAD~1", "--unified=0")
    assert f'-  SHIPYARD_MODEL_VERSION: "{before}"' in diff
    assert f'+  SHIPYARD_MODEL_VERSION: "{before + 4}"' in diff
    assert gitops.read_version(repo, "dev") == before + 4


def test_rollback_restores_the_previous_line(repo):
    path = repo / "manifests/overlays/prod/model-version.yaml"
    original = path.read_text()
    gitops.promote(repo, "prod", 7, branch="release")
    info = gitops.rollback(repo, "prod", branch="release", reason="bad canary")
    assert numstat(repo) == [(1, 1, "manifests/overlays/prod/model-version.yaml")]
    assert path.read_text() == original
    assert info.new_value == gitops.read_version(repo, "prod") != 7
    assert "Shipyard-Action: rollback" in info.message and "Reason: bad canary" in info.message
    assert info.branch == "release"


def test_repeated_rollbacks_walk_back_through_promotions(repo):
    start = gitops.read_version(repo, "dev")
    for version in (start + 1, start + 2, start + 3):
        gitops.promote(repo, "dev", version, branch="train")
    assert gitops.version_history(repo, "dev") == [start, start + 1, start + 2, start + 3]
    assert gitops.rollback(repo, "dev").new_value == start + 2
    assert gitops.rollback(repo, "dev").new_value == start + 1  # not back to start + 3
    assert gitops.version_history(repo, "dev") == [start, start + 1]


def test_rollback_without_history_refuses(repo):
    with pytest.raises(gitops.GitOpsError, match="no earlier"):
        gitops.rollback(repo, "staging")


def test_promote_refuses_unknown_env_same_version_and_dirty_file(repo):
    with pytest.raises(gitops.GitOpsError, match="unknown environment"):
        gitops.promote(repo, "qa", 5)
    with pytest.raises(gitops.GitOpsError, match="already serves"):
        gitops.promote(repo, "dev", gitops.read_version(repo, "dev"))
    path = repo / "manifests/overlays/dev/model-version.yaml"
    path.write_text(path.read_text() + "# local edit\n")
    with pytest.raises(gitops.GitOpsError, match="uncommitted"):
        gitops.promote(repo, "dev", 99)
    with pytest.raises(gitops.GitOpsError, match="pins model 'fraud'"):
        gitops.promote(repo, "prod", 99, model="churn")
    assert git(repo, "rev-list", "--count", "HEAD").strip() == "1"


def test_canary_env_promotion_is_one_commit_when_the_canary_is_armed(repo):
    current, armed = gitops.read_canary_percent(repo, "prod")
    assert current == armed < 100
    info = gitops.promote(repo, "prod", 9)
    assert info.preceding == ()
    assert numstat(repo) == [(1, 1, "manifests/overlays/prod/model-version.yaml")]


def test_canary_rollout_then_next_promotion_rearms_in_a_separate_one_line_commit(repo):
    gitops.promote(repo, "prod", 9, branch="prod-work")
    verdict = gitops.Verdict("promote", ("fine",))
    rolled = gitops.apply_verdict(repo, "prod", verdict, branch="prod-work")
    assert numstat(repo) == [(1, 1, "manifests/overlays/prod/canary.yaml")]
    assert gitops.read_canary_percent(repo, "prod")[0] == 100 and rolled.new_value == 100
    info = gitops.promote(repo, "prod", 10, branch="prod-work")
    assert len(info.preceding) == 1
    assert numstat(repo) == [(1, 1, "manifests/overlays/prod/model-version.yaml")]
    assert numstat(repo, info.preceding[0]) == [(1, 1, "manifests/overlays/prod/canary.yaml")]
    current, armed = gitops.read_canary_percent(repo, "prod")
    assert current == armed


def test_rollback_verdict_commits_the_previous_version(repo):
    before = gitops.read_version(repo, "staging")
    gitops.promote(repo, "staging", before + 1, branch="s")
    info = gitops.apply_verdict(repo, "staging", gitops.Verdict("rollback", ("errors",)), branch="s")
    assert info.new_value == before and gitops.read_version(repo, "staging") == before
    assert "canary verdict: errors" in info.message
    assert gitops.apply_verdict(repo, "staging", gitops.Verdict("wait"), branch="s") is None


def test_promote_in_clone_pushes_a_review_branch(repo, tmp_path):
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(remote))
    info = gitops.promote_in_clone(str(remote), "dev", 21, run_id="run-7",
                                   metrics={"recall": 0.8})
    assert info.pushed
    assert git(remote, "rev-parse", info.branch).strip() == info.sha
    assert git(remote, "diff", "main", info.branch, "--numstat").split("\t")[:2] == ["1", "1"]
