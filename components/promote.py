"""Promotion is a commit: a version the champion gate promoted is pinned in an environment's overlay.

``gated_version`` is the check every promotion passes (the version exists in the MLflow registry and
the gate recorded ``promoted`` on it); ``promote_step`` is the pipeline's last step: with a GitOps
remote it pushes the one-line overlay commit from a temporary clone, without one it records the
commit it would make. The KFP adapter lives in ``components/promote_op.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from shipyard import gitops, registry
from shipyard.settings import PROJECT_ROOT, Settings

# What components/gate.py records on every version it judges.
GATE_DECISION_TAG = "shipyard.gate.decision"  # "promoted" or "rejected"
GATE_REASON_TAG = "shipyard.gate"
PIPELINE_RUN_TAG = "shipyard.pipeline_run"  # set by components/register.py
# What this step records on the version, so the registry says where its promotion went.
PROMOTION_TAG = "shipyard.promotion"
PROMOTION_STATE_TAG = "shipyard.promotion.state"
PROMOTION_COMMIT_TAG = "shipyard.promotion.commit"

State = Literal["pushed", "already pinned", "planned", "not promoted"]


class NotPromotable(LookupError):
    """The version is not in the registry, or the champion gate did not promote it."""


@dataclass(frozen=True)
class GatedVersion:
    model: str
    version: int
    metrics: dict[str, float]  # the candidate's headline holdout metrics
    reason: str  # the gate's decision, as it recorded it
    pipeline_run: str | None


def gated_version(settings: Settings, model: str, version: int) -> GatedVersion:
    """The registry's record of ``version``; raises NotPromotable unless the gate promoted it."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode

    client = registry.client(settings)
    try:
        found = client.get_model_version(model, str(version))
    except MlflowException as exc:
        if exc.error_code != ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            raise  # the registry is unreachable or broken: not the user's mistake
        raise NotPromotable(f"{model} version {version} does not exist in the MLflow registry "
                            f"({settings.mlflow_tracking_uri})") from None
    decision = found.tags.get(GATE_DECISION_TAG)
    if decision != "promoted":
        why = found.tags.get(GATE_REASON_TAG) or "the champion gate never judged it"
        raise NotPromotable(f"{model} version {version} did not pass the champion gate: {why}")
    metrics = {k: v for k, v in client.get_run(found.run_id).data.metrics.items() if "." not in k}
    return GatedVersion(model, version, metrics, found.tags.get(GATE_REASON_TAG, ""),
                        found.tags.get(PIPELINE_RUN_TAG))


@dataclass(frozen=True)
class PromotionRecord:
    """What the promote step did (or would do) in Git."""
    state: State
    env: str
    model: str
    version: int
    summary: str  # one line for logs and the run outcome
    message: str = ""  # the commit message, made or planned
    sha: str = ""
    branch: str = ""
    remote: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    def markdown(self) -> str:
        lines = [f"# Promotion of {self.model} v{self.version} to {self.env}: {self.state}", "", self.summary]
        if self.sha:
            lines += ["", f"- commit `{self.sha}` on branch `{self.branch}` of `{self.remote}`"]
        if self.message:
            fence = "```"
            lines += ["", "Commit message:" if self.state != "planned" else "Commit it would make:", "",
                      fence, self.message.rstrip(), fence]
        return "\n".join(lines) + "\n"


def _planned(env: str, model: str, version: int, message_args: dict) -> PromotionRecord:
    """No remote: the commit this promotion would make, against this checkout's overlay when present."""
    try:
        where = gitops.pin_path(PROJECT_ROOT, env, model)
        old = gitops.read_version(PROJECT_ROOT, env, model)
    except (gitops.GitOpsError, OSError):  # no manifests/ here (an installed package), or no pin for the model
        where, old = gitops.OVERLAYS / env / gitops.pin_file_name(model), None
    message = gitops.commit_message("promote", env, model, old, version,
                                    title=gitops.promotion_title(env, model, version), **message_args)
    summary = (f"no GitOps remote (SHIPYARD_GITOPS_REMOTE) is configured: would pin {model} version {version} "
               f"in {where} (now {old if old is not None else 'unknown: no manifests/ here'}) in one commit")
    return PromotionRecord("planned", env, model, version, summary, message)


def promote_step(settings: Settings, *, model: str, version: int, promoted: bool, gate_reason: str,
                 metrics: dict[str, float], pipeline_run: str, env: str, branch: str = "") -> PromotionRecord:
    """Commit the gate's promotion to the GitOps remote (or record the commit it would make)."""
    if not promoted:
        record = PromotionRecord("not promoted", env, model, version,
                                 f"the gate did not promote {model} version {version}: nothing to commit")
        return record  # nothing is tagged: the gate's own tags say why
    message_args = {"metrics": metrics, "run_id": pipeline_run or None, "reason": gate_reason or None}
    if settings.gitops_remote:
        info = gitops.promote_in_clone(settings.gitops_remote, env, version, model=model,
                                       branch=branch or None, **message_args)
        state: State = "pushed" if info.changed else "already pinned"
        summary = (f"pushed {info.sha[:12]} to {info.branch}: {info.path} {info.old_value} -> {info.new_value}"
                   if info.changed else f"{info.branch} already pins {model} version {version}: nothing pushed")
        record = PromotionRecord(state, env, model, version, summary, info.message, info.sha, info.branch,
                                 settings.gitops_remote)
    else:
        record = _planned(env, model, version, message_args)
    tags = {PROMOTION_TAG: record.summary, PROMOTION_STATE_TAG: record.state}
    if record.sha:
        tags[PROMOTION_COMMIT_TAG] = record.sha
    client = registry.client(settings)
    for key, value in tags.items():
        client.set_model_version_tag(model, str(version), key, value)
    return replace(record, tags=tags)
