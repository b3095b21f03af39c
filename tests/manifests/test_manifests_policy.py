"""Policy on the rendered manifests: Pod Security "restricted", requests and limits, pinned images,
NetworkPolicies (default deny plus explicit paths) and no Secret data in Git."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit

OVERLAYS = ("dev", "staging", "prod")
MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
SECRETISH = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|PRIVATE|CREDENTIAL", re.I)


def pod_specs(doc: dict) -> list[tuple[str, dict, dict]]:
    """(label, pod spec, pod labels) of every pod an object creates."""
    kind, name = doc["kind"], doc["metadata"]["name"]
    spec = doc.get("spec") or {}
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"):
        tpl = spec["template"]
        return [(f"{kind}/{name}", tpl["spec"], tpl["metadata"].get("labels", {}))]
    if kind == "CronJob":
        tpl = spec["jobTemplate"]["spec"]["template"]
        return [(f"{kind}/{name}", tpl["spec"], tpl["metadata"].get("labels", {}))]
    if kind == "InferenceService":
        # KServe builds the pod from the component spec; the labels field is copied to the pod.
        return [(f"{kind}/{name}/{part}", spec[part], spec[part].get("labels", {}))
                for part in ("predictor", "transformer", "explainer") if part in spec]
    if kind == "Pod":
        return [(f"Pod/{name}", spec, doc["metadata"].get("labels", {}))]
    return []


def restricted_violations(pod: dict) -> list[str]:
    """Pod Security Standards "restricted" (plus read-only root filesystem and resources)."""
    problems = []
    psc = pod.get("securityContext") or {}
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(host):
            problems.append(f"{host} is set")
    for vol in pod.get("volumes") or []:
        allowed = {"name", "configMap", "emptyDir", "persistentVolumeClaim", "projected", "secret",
                   "downwardAPI", "csi", "ephemeral"}
        if set(vol) - allowed:
            problems.append(f"volume {vol['name']} uses {sorted(set(vol) - allowed)}")
    containers = (pod.get("containers") or []) + (pod.get("initContainers") or [])
    if not containers:
        problems.append("no containers")
    for c in containers:
        csc = c.get("securityContext") or {}
        where = f"container {c.get('name')}"
        if csc.get("runAsNonRoot", psc.get("runAsNonRoot")) is not True:
            problems.append(f"{where}: runAsNonRoot is not true")
        if csc.get("runAsUser", psc.get("runAsUser")) == 0:
            problems.append(f"{where}: runs as uid 0")
        if csc.get("privileged"):
            problems.append(f"{where}: privileged")
        if csc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: allowPrivilegeEscalation is not false")
        caps = csc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            problems.append(f"{where}: capabilities do not drop ALL")
        if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            problems.append(f"{where}: adds capabilities {caps['add']}")
        seccomp = (csc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{where}: seccompProfile is {seccomp}")
        if csc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{where}: root filesystem is writable")
        for part in ("requests", "limits"):
            have = (c.get("resources") or {}).get(part) or {}
            if not {"cpu", "memory"} <= set(have):
                problems.append(f"{where}: resources.{part} lacks cpu or memory")
        image = c.get("image", "")
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        if "@sha256:" not in image and (not tag or tag == "latest"):
            problems.append(f"{where}: image {image!r} is not pinned")
    return problems


def _all_pods(docs):
    return [pod for doc in docs for pod in pod_specs(doc)]


@pytest.mark.parametrize("env", OVERLAYS)
def test_every_pod_meets_the_restricted_profile(rendered_docs, env):
    pods = _all_pods(rendered_docs[env])
    assert len(pods) >= 6  # predictor, monitor, redis, feast, mlflow, kfp-deployer
    problems = {label: restricted_violations(pod) for label, pod, _ in pods}
    assert {k: v for k, v in problems.items() if v} == {}


def test_policy_check_catches_a_root_privileged_unpinned_pod():
    bad = {"hostNetwork": True, "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
           "containers": [{"name": "c", "image": "redis:latest",
                           "securityContext": {"privileged": True, "runAsUser": 0}}]}
    problems = " ".join(restricted_violations(bad))
    for expected in ("hostNetwork", "hostPath", "runAsNonRoot", "uid 0", "privileged",
                     "allowPrivilegeEscalation", "drop ALL", "seccompProfile", "writable",
                     "resources.requests", "resources.limits", "not pinned"):
        assert expected in problems


@pytest.mark.parametrize("env", OVERLAYS)
def test_namespace_enforces_restricted(rendered_docs, env):
    ns = next(d for d in rendered_docs[env] if d["kind"] == "Namespace")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def _selects(selector: dict, labels: dict) -> bool:
    if selector.get("matchExpressions"):
        raise AssertionError("matchExpressions are not used in Shipyard's policies")
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


@pytest.mark.parametrize("env", OVERLAYS)
def test_default_deny_plus_an_explicit_policy_for_every_pod(rendered_docs, env):
    docs = rendered_docs[env]
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    deny = [p for p in policies if p["spec"]["podSelector"] == {}
            and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
            and not p["spec"].get("ingress") and not p["spec"].get("egress")]
    assert deny, "no default-deny NetworkPolicy"
    dns = [p for p in policies if p["spec"]["podSelector"] == {} and any(
        port.get("port") == 53 for rule in p["spec"].get("egress", []) for port in rule.get("ports", []))]
    assert dns, "pods cannot resolve names: no DNS egress policy"
    for label, _, pod_labels in _all_pods(docs):
        own = [p for p in policies if p["spec"]["podSelector"] and _selects(p["spec"]["podSelector"], pod_labels)]
        assert own, f"{label} has no explicit NetworkPolicy"
        for policy in own:
            for rule in policy["spec"].get("ingress", []) + policy["spec"].get("egress", []):
                # An explicit path names its port: no "allow everything" rule hides in here.
                assert rule.get("ports"), f"{policy['metadata']['name']}: rule without ports"


@pytest.mark.parametrize("env", OVERLAYS)
def test_no_secret_data_is_rendered(rendered_docs, env):
    docs = rendered_docs[env]
    # Secrets are created in the cluster by External Secrets (a SealedSecret would be fine too).
    assert not [d["metadata"]["name"] for d in docs if d["kind"] == "Secret"]
    produced = {d["spec"]["target"]["name"] for d in docs if d["kind"] == "ExternalSecret"}
    for label, pod, _ in _all_pods(docs):
        for c in pod.get("containers", []):
            for env_var in c.get("env", []):
                if "value" in env_var:
                    assert not SECRETISH.search(env_var["name"]), f"{label}: {env_var['name']} literal"
                ref = (env_var.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] in produced, f"{label}: Secret {ref['name']} has no ExternalSecret"


def test_no_secret_manifest_or_credential_in_the_manifests_tree():
    for path in MANIFESTS.rglob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "Secret":
                pytest.fail(f"{path}: a Secret manifest is in Git; use an ExternalSecret")
        text = path.read_text()
        assert not re.search(r"://[^/\s:@]+:[^/\s@]+@", text), f"{path}: URL with credentials"
        assert "BEGIN PRIVATE KEY" not in text and "BEGIN RSA" not in text, path
