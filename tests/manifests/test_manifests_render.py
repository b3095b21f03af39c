"""Every overlay renders, pins its model version where it should, and validates against schemas."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit

OVERLAYS = ("dev", "staging", "prod")
MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
VALIDATOR = MANIFESTS / "schemas" / "validate.py"
EXPECTED_KINDS = {
    "Namespace", "InferenceService", "PersistentVolumeClaim", "Deployment", "Service",
    "ServiceAccount", "Role", "RoleBinding", "NetworkPolicy", "ServiceMonitor", "PrometheusRule",
    "ExternalSecret", "Job", "ConfigMap",
}


def _one(docs: list[dict], kind: str, name: str) -> dict:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def _env_value(container: dict, name: str) -> str:
    return next(e["value"] for e in container["env"] if e["name"] == name)


@pytest.mark.parametrize("env", OVERLAYS)
def test_overlay_renders_the_whole_platform_into_its_namespace(rendered_docs, env):
    docs = rendered_docs[env]
    assert EXPECTED_KINDS <= {d["kind"] for d in docs}
    for doc in docs:
        if doc["kind"] == "Namespace":
            assert doc["metadata"]["name"] == f"shipyard-{env}"
        else:
            assert doc["metadata"].get("namespace") == f"shipyard-{env}", doc["metadata"]["name"]


@pytest.mark.parametrize("env", OVERLAYS)
def test_overlay_pins_its_model_version_in_predictor_and_monitor(rendered_docs, env):
    pin = yaml.safe_load((MANIFESTS / "overlays" / env / "model-version.yaml").read_text())
    version = pin["data"]["SHIPYARD_MODEL_VERSION"]
    isvc = _one(rendered_docs[env], "InferenceService", "fraud")
    predictor = isvc["spec"]["predictor"]["containers"][0]
    monitor = _one(rendered_docs[env], "Deployment", "fraud-drift-monitor")["spec"]["template"]["spec"]
    assert _env_value(predictor, "SHIPYARD_MODEL_VERSION") == version
    assert _env_value(monitor["containers"][0], "SHIPYARD_MODEL_VERSION") == version
    assert int(version) >= 1
    # The pin itself is local-config: it must not be deployed.
    assert not [d for d in rendered_docs[env] if d["metadata"]["name"].startswith("model-pin")]


@pytest.mark.parametrize("env", OVERLAYS)
def test_overlay_patches_keep_the_base_predictor_container(rendered_docs, env):
    container = _one(rendered_docs[env], "InferenceService", "fraud")["spec"]["predictor"]["containers"][0]
    assert container["image"].startswith("ghcr.io/shipyard-mlops/shipyard:")
    assert container["args"][:3] == ["serve", "--port", "8080"]
    assert "--drain-seconds" in container["args"]  # the drain the termination grace period is sized for
    assert container["readinessProbe"]["httpGet"]["port"] == 8080
    assert set(container["resources"]) == {"requests", "limits"}


def test_canary_percent_only_in_staging_and_prod(rendered_docs):
    percents = {env: _one(rendered_docs[env], "InferenceService", "fraud")["spec"]["predictor"]
                .get("canaryTrafficPercent") for env in OVERLAYS}
    assert percents["dev"] is None
    assert all(isinstance(percents[e], int) and 0 < percents[e] <= 100 for e in ("staging", "prod"))


@pytest.mark.parametrize("env", OVERLAYS)
def test_overlays_are_thin(env):
    kustomization = yaml.safe_load((MANIFESTS / "overlays" / env / "kustomization.yaml").read_text())
    assert set(kustomization) <= {"apiVersion", "kind", "namespace", "resources", "components", "patches"}
    # The base, then one pin per use case (model-version.yaml is the first one's, see shipyard/gitops.py).
    assert kustomization["resources"][:2] == ["../../base", "model-version.yaml"]
    assert all(r.startswith("model-version-") for r in kustomization["resources"][2:])
    assert kustomization["components"] == ["../../usecases"]


def _validate(tools_python: Path, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(tools_python), str(VALIDATOR), str(path)],
                          capture_output=True, text=True, check=False)


@pytest.mark.parametrize("target", [f"overlays/{e}" for e in OVERLAYS] + ["argocd"])
def test_rendered_objects_validate_against_kubernetes_and_crd_schemas(
        render, tools_python, tmp_path, target):
    out = tmp_path / "rendered.yaml"
    out.write_text(render(target))
    result = _validate(tools_python, out)
    assert result.returncode == 0, result.stdout + result.stderr


def test_bootstrap_application_validates(tools_python):
    result = _validate(tools_python, MANIFESTS / "argocd" / "bootstrap" / "root.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_validator_rejects_wrong_types_unknown_fields_and_unknown_kinds(tools_python, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: fraud}\n"
        "spec:\n  predictor:\n    canaryTrafficPercent: '10'\n    containerz: []\n"
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: two}\n"
        "---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
    result = _validate(tools_python, bad)
    assert result.returncode == 1
    assert "canaryTrafficPercent" in result.stdout
    assert "'containerz' was unexpected" in result.stdout
    assert "Deployment/d" in result.stdout
    assert "no schema for example.com/v1 Widget" in result.stdout


def test_argocd_environments_come_after_operators(render):
    docs = [d for d in yaml.safe_load_all(render("argocd")) if d]
    wave = {d["metadata"]["name"]: int(d["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
            for d in docs}
    operators = [wave[n] for n in ("kserve-crds", "kserve", "kube-prometheus-stack", "external-secrets")]
    environments = [wave[f"shipyard-{e}"] for e in OVERLAYS]
    assert max(operators) < min(environments)
    assert max(wave["shipyard"], wave["shipyard-platform"]) < min(operators)
    for env in OVERLAYS:
        app = next(d for d in docs if d["metadata"]["name"] == f"shipyard-{env}")
        assert app["spec"]["source"]["path"] == f"manifests/overlays/{env}"
        assert app["spec"]["destination"]["namespace"] == f"shipyard-{env}"
        assert any(i["kind"] == "InferenceService" for i in app["spec"]["ignoreDifferences"])


@pytest.mark.parametrize("env", OVERLAYS)
def test_crd_users_come_after_the_objects_they_need(rendered_docs, env):
    def wave(doc):
        return int((doc["metadata"].get("annotations") or {}).get("argocd.argoproj.io/sync-wave", "0"))
    docs = rendered_docs[env]
    by_kind: dict[str, list[int]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(wave(doc))
    assert max(by_kind["Namespace"]) < min(by_kind["ServiceAccount"] + by_kind["NetworkPolicy"])
    assert max(by_kind["ExternalSecret"]) < min(by_kind["Deployment"])
    assert max(by_kind["Deployment"]) < min(by_kind["InferenceService"])
    assert min(by_kind["InferenceService"]) < min(by_kind["ServiceMonitor"] + by_kind["PrometheusRule"])


@pytest.mark.parametrize("env", OVERLAYS)
def test_feature_freshness_reaches_prometheus(render, rendered_docs, env, repo_root):
    """The materializer pushes its freshness to SHIPYARD_PUSHGATEWAY_URL: that must be the Pushgateway
    Argo CD installs, scraped through its chart's ServiceMonitor with the pushed labels kept, reachable
    through the materializer's NetworkPolicy; and the staleness alert must query what it pushes."""
    from urllib.parse import urlsplit

    from shipyard.feature_freshness import freshness_registry

    docs = [d for d in yaml.safe_load_all(render("argocd")) if d]
    wave = {d["metadata"]["name"]: int(d["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) for d in docs}
    app = next(d for d in docs if d["metadata"]["name"] == "prometheus-pushgateway")
    values = app["spec"]["source"]["helm"]["valuesObject"]
    assert values["serviceMonitor"]["enabled"] is True and values["serviceMonitor"]["honorLabels"] is True
    assert wave["kube-prometheus-stack"] < wave["prometheus-pushgateway"] < wave[f"shipyard-{env}"]

    settings = _one(rendered_docs[env], "ConfigMap", "shipyard-settings")["data"]
    url = urlsplit(settings["SHIPYARD_PUSHGATEWAY_URL"])
    assert url.hostname in (f"{values['fullnameOverride']}.{app['spec']['destination']['namespace']}",
                            f"{values['fullnameOverride']}.{app['spec']['destination']['namespace']}.svc")
    assert url.port == values["service"]["port"]

    policy = _one(rendered_docs[env], "NetworkPolicy", "feature-materializer")
    assert any(rule.get("to") and any(peer.get("namespaceSelector", {}).get("matchLabels", {}).get(
        "kubernetes.io/metadata.name") == app["spec"]["destination"]["namespace"] for peer in rule["to"])
        and {"protocol": "TCP", "port": url.port} in rule["ports"] for rule in policy["spec"]["egress"])

    pushed = {metric.name for metric in freshness_registry([]).collect()}
    rules = yaml.safe_load((repo_root / "monitoring/prometheus/rules.yaml").read_text())
    alerts = {r["alert"]: r["expr"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    assert any(name in alerts["ShipyardFeaturesStale"] for name in pushed), alerts["ShipyardFeaturesStale"]
