"""Promotion by commit: the model version an environment serves is one line in its overlay.

`promote` rewrites `SHIPYARD_MODEL_VERSION` in the model's pin in `manifests/overlays/ENV/` and
commits that single line on a branch (the pin: `model-version.yaml` when it names the model, else
`model-version-<model>.yaml`, one file per use case, see `pin_path`); `rollback` does the same
with the previous version; the canary verdict compares canary and stable on Prometheus signals and
commits promote (canary traffic to 100) or rollback.
Argo CD applies whatever lands on main. Git is driven through its CLI.

Commits are made in a temporary worktree (or, for the pipeline, a temporary clone), never in the
user's checkout: the branch appears in the repository, the checked-out branch and files stay as
they were. Promoting the version a branch already pins is a no-op (`CommitInfo.changed` False).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
import subprocess
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

ENVIRONMENTS = ("dev", "staging", "prod")
OVERLAYS = Path("manifests/overlays")
_VERSION_LINE = re.compile(r'^(?P<head>\s*SHIPYARD_MODEL_VERSION:\s*)"(?P<v>\d+)"(?P<tail>.*)$', re.M)
_MODEL_LINE = re.compile(r'^\s*SHIPYARD_MODEL_NAME:\s*"?(?P<m>[\w.-]+)"?\s*$', re.M)
_CANARY_LINE = re.compile(r"^(?P<head>\s*canaryTrafficPercent:\s*)(?P<p>\d+)(?P<tail>.*)$", re.M)
_CANARY_ARMED = re.compile(r"^#\s*shipyard:canary-percent=(?P<p>\d+)\s*$", re.M)
_BOT_IDENTITY = ["-c", "user.name=Shipyard", "-c", "user.email=shipyard@users.noreply.github.com"]


class GitOpsError(RuntimeError):
    """A promotion that cannot be made as asked (nothing is committed)."""


@dataclass(frozen=True)
class CommitInfo:
    sha: str  # the new commit, or the branch tip that already pins the version (changed False)
    branch: str
    env: str
    path: str  # the overlay file changed, relative to the repository root
    old_value: int
    new_value: int
    message: str
    preceding: tuple[str, ...] = ()  # e.g. the canary re-arm commit made before a promotion
    pushed: bool = False
    changed: bool = True  # False: the branch already pinned this value, nothing was committed

    def describe(self) -> str:
        if not self.changed:
            return (f"{self.path} on {self.branch} already pins {self.new_value}: nothing to commit "
                    f"({self.sha[:12]})")
        return (f"committed {self.path}: {self.old_value} -> {self.new_value} on branch {self.branch} "
                f"({self.sha[:12]}){' and pushed' if self.pushed else ''}")


# --- git plumbing -------------------------------------------------------------------------------

def _git(repo: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], input=stdin, text=True,
                          capture_output=True, check=False)
    if done.returncode != 0:
        raise GitOpsError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def _identity(repo: Path) -> list[str]:
    """Commit as the configured user; fall back to a bot identity (CI, pipeline pods)."""
    probe = subprocess.run(["git", "-C", str(repo), "config", "user.email"],
                           capture_output=True, text=True, check=False)
    return [] if probe.stdout.strip() else _BOT_IDENTITY


def _has_branch(repo: Path, branch: str) -> bool:
    return bool(_git(repo, "branch", "--list", branch).strip())


def _checked_out(repo: Path) -> str:
    return _git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip()


@contextmanager
def _worktree(repo: Path, branch: str) -> Iterator[Path]:
    """A temporary worktree on `branch` (created from HEAD when new); the user's checkout is untouched.

    A new branch that got no commit is deleted again, so a no-op leaves nothing behind.
    """
    if _checked_out(repo) == branch:
        raise GitOpsError(f"branch {branch!r} is checked out in {repo}; promotions commit on another "
                          "branch without touching your checkout: pass a different --branch")
    created = not _has_branch(repo, branch)
    start = _git(repo, "rev-parse", "HEAD").strip()
    tmp = Path(tempfile.mkdtemp(prefix="shipyard-gitops-"))
    path = tmp / "worktree"
    _git(repo, "worktree", "add", "-q", *(["-b", branch] if created else []), str(path),
         *([start] if created else [branch]))
    try:
        yield path
    finally:
        _git(repo, "worktree", "remove", "--force", str(path))
        shutil.rmtree(tmp, ignore_errors=True)
        if created and _git(repo, "rev-parse", branch).strip() == start:
            _git(repo, "branch", "-q", "-D", branch)


def _refuse_if_dirty(repo: Path, rel: Path) -> None:
    if _git(repo, "status", "--porcelain", "--", str(rel)).strip():
        raise GitOpsError(f"{rel} has uncommitted changes; commit or discard them first")


def _commit_one_line(worktree: Path, rel: Path, text: str, message: str) -> str:
    """Write `text` to `rel` in `worktree` and commit that file alone; return the commit sha."""
    (worktree / rel).write_text(text)
    _git(worktree, *_identity(worktree), "commit", "-q", "-F", "-", "--", str(rel), stdin=message)
    return _git(worktree, "rev-parse", "HEAD").strip()


def _push(repo: Path, remote: str, branch: str) -> None:
    _git(repo, "push", "-q", remote, f"refs/heads/{branch}:refs/heads/{branch}")


# --- overlay files ------------------------------------------------------------------------------

def version_file(env: str) -> Path:
    """The environment's first pin (the model it pinned before there were several use cases)."""
    if env not in ENVIRONMENTS:
        raise GitOpsError(f"unknown environment {env!r}; expected one of {', '.join(ENVIRONMENTS)}")
    return OVERLAYS / env / "model-version.yaml"


def pin_file_name(model: str) -> str:
    """The pin file of a model that is not the one `model-version.yaml` names."""
    return f"model-version-{model}.yaml"


def pin_path(repo_dir: Path | str, env: str, model: str | None = None) -> Path:
    """Where `model` is pinned in `env` (relative to the repository root).

    `model-version.yaml` when it names `model` (or no model is given), else
    `model-version-<model>.yaml`; a model pinned in neither is refused, naming what is pinned.
    """
    default = version_file(env)
    if model is None:
        return default
    root = Path(repo_dir)
    text = (root / default).read_text() if (root / default).is_file() else ""
    found = _MODEL_LINE.search(text)
    if found is None or found["m"] == model:
        return default
    own = OVERLAYS / env / pin_file_name(model)
    if (root / own).is_file():
        _check_model((root / own).read_text(), model, str(own))
        return own
    raise GitOpsError(f"{env} has no pin for model {model!r}: {default} pins model {found['m']!r} and "
                      f"{own} does not exist (run `make manifests-generate` after adding a use case)")


def _parse_version(text: str, where: str) -> int:
    found = _VERSION_LINE.findall(text)
    if len(found) != 1:
        raise GitOpsError(f"{where}: expected exactly one SHIPYARD_MODEL_VERSION line")
    return int(_VERSION_LINE.search(text)["v"])


def read_version(repo_dir: Path | str, env: str, model: str | None = None) -> int:
    rel = pin_path(repo_dir, env, model)
    return _parse_version((Path(repo_dir) / rel).read_text(), str(rel))


def _with_version(text: str, version: int) -> str:
    return _VERSION_LINE.sub(lambda m: f'{m["head"]}"{version}"{m["tail"]}', text, count=1)


def _check_model(text: str, model: str, where: str) -> None:
    found = _MODEL_LINE.search(text)
    if found and found["m"] != model:
        raise GitOpsError(f"{where} pins model {found['m']!r}, not {model!r}")


def _ref_of(repo: Path, branch: str | None) -> str:
    """Where an existing branch's history is read from: the branch when it exists, else HEAD."""
    return branch if branch and _has_branch(repo, branch) else "HEAD"


def version_history(repo_dir: Path | str, env: str, ref: str = "HEAD", *, model: str | None = None) -> list[int]:
    """Versions deployed to `env` at `ref`, oldest first, with rolled-back ones removed.

    Replays the commits that touched the overlay's version line: a promotion pushes, a rollback
    (trailer `Shipyard-Action: rollback`, or an untagged return to the previous value such as a
    `git revert`) pops. The last element is the version pinned now.
    """
    repo, rel = Path(repo_dir), pin_path(repo_dir, env, model)
    log = _git(repo, "log", "--reverse", "--format=%H%x00%(trailers:key=Shipyard-Action,valueonly)%x1e",
               ref, "--", str(rel))
    stack: list[int] = []
    for record in filter(str.strip, log.split("\x1e")):
        sha, action = (part.strip() for part in record.split("\x00"))
        try:
            value = _parse_version(_git(repo, "show", f"{sha}:{rel}"), f"{sha[:8]}:{rel}")
        except GitOpsError:
            continue  # the file was deleted or malformed in that commit
        if stack and value == stack[-1]:
            continue  # the commit changed something else in the file
        if len(stack) >= 2 and value == stack[-2] and action in ("rollback", ""):
            stack.pop()
        else:
            stack.append(value)
    return stack


def _canary_file(env: str, repo_dir: Path | str = ".", model: str | None = None) -> Path:
    """`canary.yaml` belongs to the model of `model-version.yaml`; another model's is `canary-<model>.yaml`."""
    if pin_path(repo_dir, env, model) == version_file(env):
        return OVERLAYS / env / "canary.yaml"
    return OVERLAYS / env / f"canary-{model}.yaml"


def read_canary_percent(repo_dir: Path | str, env: str, model: str | None = None) -> tuple[int, int] | None:
    """(current, armed) canary percent of `model` in `env`, or None when it runs without a canary."""
    rel = _canary_file(env, repo_dir, model)
    path = Path(repo_dir) / rel
    if not path.is_file():
        return None
    text = path.read_text()
    current, armed = _CANARY_LINE.search(text), _CANARY_ARMED.search(text)
    if current is None or armed is None:
        raise GitOpsError(f"{rel}: needs canaryTrafficPercent and a "
                          "`# shipyard:canary-percent=N` line")
    return int(current["p"]), int(armed["p"])


# --- commit messages ----------------------------------------------------------------------------

def commit_message(action: str, env: str, model: str, old: int | None, new: int, *, title: str,
                   metrics: Mapping[str, float] | None = None, run_id: str | None = None,
                   reason: str | None = None) -> str:
    """The message of a version commit: what moved, the evidence, and machine-readable trailers."""
    metric_text = ", ".join(f"{k}={v:.4g}" for k, v in sorted((metrics or {}).items())) or "n/a"
    previous = "unknown" if old is None else old
    body = [f"Model: {model}", f"Version: {new} (previously {previous})", f"Environment: {env}",
            f"Pipeline run: {run_id or 'n/a'}", f"Metrics: {metric_text}"]
    if reason:
        body.append(f"Reason: {reason}")
    trailers = [f"Shipyard-Action: {action}", f"Shipyard-Env: {env}", f"Shipyard-Model: {model}",
                f"Shipyard-Version: {new}", f"Shipyard-Previous-Version: {previous}"]
    if run_id:
        trailers.append(f"Shipyard-Pipeline-Run: {run_id}")
    return f"{title}\n\n" + "\n".join(body) + "\n\n" + "\n".join(trailers) + "\n"


def promotion_title(env: str, model: str, version: int) -> str:
    return f"promote({env}): {model} v{version}"


def review_branch(env: str, model: str, version: int) -> str:
    return f"promote/{env}/{model}-v{version}"


# --- promotion and rollback ---------------------------------------------------------------------

def _set_version(worktree: Path, env: str, version: int, *, action: str, title: str, model: str,
                 metrics: Mapping[str, float] | None, run_id: str | None,
                 reason: str | None) -> tuple[str, int, str]:
    rel = pin_path(worktree, env, model)
    text = (worktree / rel).read_text()
    old = _parse_version(text, str(rel))
    message = commit_message(action, env, model, old, version, title=title, metrics=metrics,
                             run_id=run_id, reason=reason)
    return _commit_one_line(worktree, rel, _with_version(text, version), message), old, message


def _pinned(worktree: Path, env: str, model: str) -> int:
    rel = pin_path(worktree, env, model)
    text = (worktree / rel).read_text()
    _check_model(text, model, str(rel))
    return _parse_version(text, str(rel))


def promote(repo_dir: Path | str, env: str, version: int, *, model: str,
            metrics: Mapping[str, float] | None = None, run_id: str | None = None,
            reason: str | None = None, branch: str | None = None, push: bool = False,
            remote: str = "origin") -> CommitInfo:
    """Pin `version` in `env`'s overlay and commit it (one-line diff) on `branch`.

    The branch starts from HEAD when it does not exist yet. When it already pins `version`, nothing
    is committed (`changed` False). In a canary environment whose last canary was rolled out
    (traffic 100), the canary percent is first re-armed in its own one-line commit, so the new
    version starts as a canary again.
    """
    repo = Path(repo_dir)
    if version < 1:
        raise GitOpsError(f"model versions start at 1, got {version}")
    rel = pin_path(repo, env, model)
    _refuse_if_dirty(repo, rel)
    branch = branch or review_branch(env, model, version)
    with _worktree(repo, branch) as worktree:
        current = _pinned(worktree, env, model)
        if current == version:
            tip = _git(worktree, "rev-parse", "HEAD").strip()
            info = CommitInfo(tip, branch, env, str(rel), current, version, "", changed=False)
        else:
            preceding: tuple[str, ...] = ()
            canary = read_canary_percent(worktree, env, model)
            if canary and canary[0] != canary[1]:
                preceding = (_set_canary(worktree, env, canary[1], model=model,
                                         title=f"canary({env}): re-arm {canary[1]}% before {model} v{version}"),)
            sha, old, message = _set_version(worktree, env, version, action="promote", model=model,
                                             metrics=metrics, run_id=run_id, reason=reason,
                                             title=promotion_title(env, model, version))
            info = CommitInfo(sha, branch, env, str(rel), old, version, message, preceding)
    if push and _has_branch(repo, branch):  # a no-op on a new branch leaves no branch to push
        _push(repo, remote, branch)
        info = dataclasses.replace(info, pushed=True)
    return info


def rollback(repo_dir: Path | str, env: str, *, model: str, reason: str | None = None,
             branch: str | None = None, push: bool = False, remote: str = "origin") -> CommitInfo:
    """Pin the version `env` served before the current one (one-line diff) and commit it."""
    repo, rel = Path(repo_dir), pin_path(repo_dir, env, model)
    _refuse_if_dirty(repo, rel)
    history = version_history(repo, env, _ref_of(repo, branch), model=model)
    if len(history) < 2:
        raise GitOpsError(f"{env} has no earlier committed version to roll back to")
    branch = branch or f"rollback/{env}/{model}-v{history[-2]}"
    with _worktree(repo, branch) as worktree:
        history = version_history(worktree, env, model=model)  # where the commit is made
        current = _pinned(worktree, env, model)
        if len(history) < 2 or history[-1] != current:
            raise GitOpsError(f"{env} has no earlier committed version to roll back to")
        target = history[-2]
        sha, old, message = _set_version(worktree, env, target, action="rollback", model=model,
                                         metrics=None, run_id=None, reason=reason,
                                         title=f"rollback({env}): {model} v{target}")
    if push:
        _push(repo, remote, branch)
    return CommitInfo(sha, branch, env, str(rel), old, target, message, (), push)


def promote_in_clone(remote_url: str, env: str, version: int, *, model: str, base_branch: str = "main",
                     branch: str | None = None, metrics: Mapping[str, float] | None = None,
                     run_id: str | None = None, reason: str | None = None) -> CommitInfo:
    """The pipeline's promote step: clone `remote_url`, commit the pin, push it.

    `branch` defaults to a review branch; `branch == base_branch` pushes to the branch Argo CD
    follows. A branch that already exists on the remote is continued, so a re-run that finds the
    version pinned there pushes nothing.
    """
    branch = branch or review_branch(env, model, version)
    with tempfile.TemporaryDirectory(prefix="shipyard-promote-") as tmp:
        clone = Path(tmp) / "repo"
        _git(Path(tmp), "clone", "-q", "--branch", base_branch, remote_url, str(clone))
        _git(clone, "checkout", "-q", "--detach")  # so any branch, the base included, can be worked on
        if branch != base_branch and _git(clone, "branch", "-r", "--list", f"origin/{branch}").strip():
            _git(clone, "branch", "-q", branch, f"origin/{branch}")
        info = promote(clone, env, version, model=model, metrics=metrics, run_id=run_id, reason=reason,
                       branch=branch, push=True, remote="origin")
    return info


# --- canary -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CanarySignals:
    """One model version's serving signals over the verdict window (NaN = no data)."""
    requests: float
    error_rate: float
    latency_p95_seconds: float
    prediction_drift: float


@dataclass(frozen=True)
class CanaryThresholds:
    min_requests: float = 200
    max_error_rate_increase: float = 0.01  # absolute, e.g. 0.5% -> 1.5% fails
    max_latency_ratio: float = 1.25
    min_latency_increase_seconds: float = 0.005  # ignore ratios on sub-5 ms noise
    max_prediction_drift_increase: float = 0.1


@dataclass(frozen=True)
class Verdict:
    decision: Literal["promote", "rollback", "wait"]
    reasons: tuple[str, ...] = field(default_factory=tuple)


def _nan_to(value: float, default: float) -> float:
    return default if math.isnan(value) else value


def canary_verdict(canary: CanarySignals, stable: CanarySignals,
                   thresholds: CanaryThresholds = CanaryThresholds()) -> Verdict:
    """Promote when the canary is no worse than stable on errors, latency and prediction drift."""
    t = thresholds
    if _nan_to(canary.requests, 0.0) < t.min_requests:
        return Verdict("wait", (f"canary served {_nan_to(canary.requests, 0.0):.0f} requests, "
                                f"fewer than {t.min_requests:.0f}",))
    failures = []
    error_limit = _nan_to(stable.error_rate, 0.0) + t.max_error_rate_increase
    if _nan_to(canary.error_rate, 0.0) > error_limit:
        failures.append(f"error rate {canary.error_rate:.4f} > {error_limit:.4f}")
    if not (math.isnan(canary.latency_p95_seconds) or math.isnan(stable.latency_p95_seconds)):
        extra = canary.latency_p95_seconds - stable.latency_p95_seconds
        if (canary.latency_p95_seconds > stable.latency_p95_seconds * t.max_latency_ratio
                and extra > t.min_latency_increase_seconds):
            failures.append(f"p95 latency {canary.latency_p95_seconds:.4f}s vs stable "
                            f"{stable.latency_p95_seconds:.4f}s")
    drift_limit = _nan_to(stable.prediction_drift, 0.0) + t.max_prediction_drift_increase
    if _nan_to(canary.prediction_drift, 0.0) > drift_limit:
        failures.append(f"prediction drift {canary.prediction_drift:.3f} > {drift_limit:.3f}")
    if failures:
        return Verdict("rollback", tuple(failures))
    return Verdict("promote", ("canary within thresholds on error rate, latency and drift",))


def _promql(model: str, version: int, window: str) -> dict[str, str]:
    sel = f'model="{model}",version="{version}"'
    total = f"sum(rate(shipyard_requests_total{{{sel}}}[{window}]))"
    return {
        "requests": f"sum(increase(shipyard_requests_total{{{sel}}}[{window}]))",
        "error_rate": f'(sum(rate(shipyard_requests_total{{{sel},code=~"5.."}}[{window}])) '
                      f"or vector(0)) / {total}",
        "latency_p95_seconds": "histogram_quantile(0.95, sum by (le) "
                               f"(rate(shipyard_request_duration_seconds_bucket{{{sel}}}[{window}])))",
        "prediction_drift": f"max(shipyard_prediction_drift_score{{{sel}}})",
    }


def query_prometheus(prometheus_url: str, promql: str, *, timeout: float = 10.0) -> float:
    """Evaluate an instant query that returns one sample; NaN when it returns none."""
    url = prometheus_url.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (http(s) URL)
        body = json.load(response)
    if body.get("status") != "success":
        raise GitOpsError(f"Prometheus query failed: {body.get('error', body)}")
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else math.nan


def query_canary_signals(prometheus_url: str, *, model: str, version: int, window: str = "15m",
                         timeout: float = 10.0) -> CanarySignals:
    values = {name: query_prometheus(prometheus_url, q, timeout=timeout)
              for name, q in _promql(model, version, window).items()}
    return CanarySignals(**values)


def _set_canary(worktree: Path, env: str, percent: int, *, model: str, title: str,
                reason: str | None = None) -> str:
    rel = _canary_file(env, worktree, model)
    text = (worktree / rel).read_text()
    new = _CANARY_LINE.sub(lambda m: f"{m['head']}{percent}{m['tail']}", text, count=1)
    trailers = f"Shipyard-Action: canary\nShipyard-Env: {env}\nShipyard-Model: {model}\n"
    message = f"{title}\n\n" + (f"Reason: {reason}\n\n" if reason else "") + trailers
    return _commit_one_line(worktree, rel, new, message)


def apply_verdict(repo_dir: Path | str, env: str, verdict: Verdict, *, model: str,
                  branch: str | None = None, push: bool = False,
                  remote: str = "origin") -> CommitInfo | None:
    """Commit the verdict: promote = canary traffic to 100%, rollback = previous version.

    Returns None for "wait" (nothing to commit); a canary already at 100% is a no-op.
    """
    repo = Path(repo_dir)
    reason = "; ".join(verdict.reasons)
    if verdict.decision == "wait":
        return None
    if verdict.decision == "rollback":
        return rollback(repo, env, model=model, reason=f"canary verdict: {reason}",
                        branch=branch, push=push, remote=remote)
    rel, pin = _canary_file(env, repo, model), pin_path(repo, env, model)
    _refuse_if_dirty(repo, rel)
    version = _parse_version(_git(repo, "show", f"{_ref_of(repo, branch)}:{pin}"), str(pin))
    branch = branch or f"canary/{env}/{model}-v{version}-rollout"
    with _worktree(repo, branch) as worktree:
        canary = read_canary_percent(worktree, env, model)
        if canary is None:
            raise GitOpsError(f"{env} runs without a canary ({rel} is absent)")
        if canary[0] == 100:
            return CommitInfo(_git(worktree, "rev-parse", "HEAD").strip(), branch, env, str(rel), 100, 100,
                              "", changed=False)
        sha = _set_canary(worktree, env, 100, model=model, reason=reason,
                          title=f"canary({env}): roll out {model} v{version} to 100%")
        message = _git(worktree, "log", "-1", "--format=%B").strip() + "\n"
    if push:
        _push(repo, remote, branch)
    return CommitInfo(sha, branch, env, str(rel), canary[0], 100, message, (), push)


def canary_versions(repo_dir: Path | str, env: str, ref: str = "HEAD", *,
                    model: str | None = None) -> tuple[int, int]:
    """(stable, canary) model versions of `env` at `ref`, from the overlay's history."""
    history = version_history(repo_dir, env, ref, model=model)
    if len(history) < 2:
        raise GitOpsError(f"{env} has no earlier version to compare the canary with")
    return history[-2], history[-1]


def run_canary_verdict(repo_dir: Path | str, env: str, prometheus_url: str, *, model: str,
                       window: str = "15m", thresholds: CanaryThresholds = CanaryThresholds(),
                       commit: bool = True, branch: str | None = None,
                       push: bool = False) -> tuple[Verdict, CommitInfo | None]:
    """`shipyard canary verdict`: query both versions, decide, and commit the decision."""
    repo = Path(repo_dir)
    stable_version, canary_version = canary_versions(repo, env, _ref_of(repo, branch), model=model)
    canary = query_canary_signals(prometheus_url, model=model, version=canary_version, window=window)
    stable = query_canary_signals(prometheus_url, model=model, version=stable_version, window=window)
    verdict = canary_verdict(canary, stable, thresholds)
    info = apply_verdict(repo, env, verdict, model=model, branch=branch, push=push) if commit else None
    return verdict, info
