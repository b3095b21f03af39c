"""Each use case's AlertmanagerConfig routes its model's drift and quality alerts to its own drift
monitor: the model and category matchers, the monitor Service's port, the webhook path the monitor
serves, the fully qualified URL with the namespace the overlay deploys to, and the bearer token
Secret the monitor reads. Then the routes as the Prometheus Operator merges them into the cluster's
one Alertmanager (a namespace matcher and `continue: true` added to each, receivers prefixed with
namespace/name/) are checked with `amtool config routes test`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from monitoring.http_app import WEBHOOK_PATH
from shipyard import gitops
from shipyard.usecase import available_use_cases, load_use_case
from tests.monitoring_rules.conftest import amtool  # noqa: F401  (a fixture: amtool's path)

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = gitops.ENVIRONMENTS
USE_CASES = [load_use_case(name) for name in available_use_cases()]
RULES = ROOT / "monitoring/prometheus/rules.yaml"


def _one(docs: list[dict], kind: str, name: str) -> dict:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def _configs(docs: list[dict]) -> list[dict]:
    return [d for d in docs if d["kind"] == "AlertmanagerConfig"]


def _matchers(route: dict) -> dict[str, tuple[str, str]]:
    """name -> (match type, value); no matchType means "=" (the operator's default)."""
    return {m["name"]: (m.get("matchType", "="), m["value"]) for m in route["matchers"]}


@pytest.mark.parametrize("env", OVERLAYS)
def test_one_alertmanager_config_per_model(rendered_docs, env):
    models = [_matchers(c["spec"]["route"])["model"] for c in _configs(rendered_docs[env])]
    assert sorted(models) == sorted(("=", u.model_name) for u in USE_CASES)


@pytest.mark.parametrize("env", OVERLAYS)
@pytest.mark.parametrize("use_case", USE_CASES, ids=lambda u: u.name)
def test_route_sends_the_models_drift_and_quality_alerts_to_its_monitor(rendered_docs, env, use_case):
    docs = rendered_docs[env]
    name = f"{use_case.name}-drift-monitor"
    config = _one(docs, "AlertmanagerConfig", name)
    service = _one(docs, "Service", name)
    [container] = _one(docs, "Deployment", name)["spec"]["template"]["spec"]["containers"]
    namespace = service["metadata"]["namespace"]
    assert namespace == config["metadata"]["namespace"] == yaml.safe_load(
        (ROOT / gitops.OVERLAYS / env / "kustomization.yaml").read_text())["namespace"]

    route = config["spec"]["route"]
    assert _matchers(route) == {"model": ("=", use_case.model_name), "category": ("=~", "drift|quality")}
    assert route["groupBy"] == ["alertname", "model"]
    assert (route["groupWait"], route["groupInterval"], route["repeatInterval"]) == ("10s", "1m", "12h")
    [receiver] = config["spec"]["receivers"]
    assert receiver["name"] == route["receiver"]
    [hook] = receiver["webhookConfigs"]

    # The Service's port, which is the container port the monitor listens on, and the monitor's route.
    [port] = service["spec"]["ports"]
    assert container["ports"][0]["name"] == port["targetPort"]
    assert container["ports"][0]["containerPort"] == port["port"]
    assert hook["url"] == f"http://{name}.{namespace}.svc:{port['port']}{WEBHOOK_PATH}"
    assert hook["sendResolved"] is True and hook["maxAlerts"] == 0

    # The token: the Secret and key the monitor reads, from the same namespace.
    token = next(e for e in container["env"] if e["name"] == "SHIPYARD_WEBHOOK_TOKEN")
    ref = token["valueFrom"]["secretKeyRef"]
    assert hook["httpConfig"]["authorization"] == {
        "type": "Bearer", "credentials": {"name": ref["name"], "key": ref["key"]}}


@pytest.mark.parametrize("env", OVERLAYS)
@pytest.mark.parametrize("use_case", USE_CASES, ids=lambda u: u.name)
def test_monitor_network_policy_admits_alertmanager(rendered_docs, env, use_case):
    name = f"{use_case.name}-drift-monitor"
    policy = _one(rendered_docs[env], "NetworkPolicy", name)
    port = _one(rendered_docs[env], "Service", name)["spec"]["ports"][0]["port"]
    assert any({"protocol": "TCP", "port": port} in rule.get("ports", [])
               and {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
               in rule.get("from", [])
               for rule in policy["spec"]["ingress"])


# --- the routes as the operator merges them (pkg/alertmanager/amcfg.go, matcher strategy OnNamespace) ---

def _operator_route(config: dict) -> tuple[dict, dict]:
    """(route, receiver) of one AlertmanagerConfig in the Alertmanager config the operator renders."""
    namespace, name = config["metadata"]["namespace"], config["metadata"]["name"]
    spec = config["spec"]

    def prefixed(receiver: str) -> str:
        return f"{namespace}/{name}/{receiver}"

    route = spec["route"]
    matchers = [f'{n}{t}"{v}"' for n, (t, v) in _matchers(route).items()] + [f'namespace="{namespace}"']
    merged = {"receiver": prefixed(route["receiver"]), "matchers": matchers, "group_by": route["groupBy"],
              "group_wait": route["groupWait"], "group_interval": route["groupInterval"],
              "repeat_interval": route["repeatInterval"], "continue": True}
    [receiver] = spec["receivers"]
    hooks = [{"url": h["url"], "send_resolved": h["sendResolved"], "max_alerts": h["maxAlerts"],
              "http_config": {"authorization": {"type": "Bearer",
                                                "credentials_file": f"/etc/alertmanager/{namespace}-token"}}}
             for h in receiver["webhookConfigs"]]
    return merged, {"name": prefixed(receiver["name"]), "webhook_configs": hooks}


@pytest.fixture(scope="module")
def cluster_alertmanager(rendered_docs, tmp_path_factory) -> Path:
    """One Alertmanager config holding every environment's routes, as on the cluster."""
    routes, receivers = [], [{"name": "default"}]
    for env in OVERLAYS:
        for config in _configs(rendered_docs[env]):
            route, receiver = _operator_route(config)
            routes.append(route)
            receivers.append(receiver)
    path = tmp_path_factory.mktemp("alertmanager") / "alertmanager.yml"
    path.write_text(yaml.safe_dump({"route": {"receiver": "default", "group_by": ["alertname"], "routes": routes},
                                    "receivers": receivers}, sort_keys=False))
    return path


def _receivers_for(amtool: str, config: Path, labels: dict[str, str]) -> str:  # noqa: F811
    done = subprocess.run([amtool, "config", "routes", "test", f"--config.file={config}",
                           *(f"{k}={v}" for k, v in labels.items())], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def test_operator_rendered_config_is_valid(amtool, cluster_alertmanager):  # noqa: F811
    done = subprocess.run([amtool, "check-config", str(cluster_alertmanager)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("env", OVERLAYS)
@pytest.mark.parametrize("use_case", USE_CASES, ids=lambda u: u.name)
def test_each_models_alerts_reach_its_own_monitor_in_its_own_environment(
        amtool, cluster_alertmanager, rendered_docs, env, use_case):  # noqa: F811
    namespace = _one(rendered_docs[env], "Service", f"{use_case.name}-drift-monitor")["metadata"]["namespace"]
    receiver = f"{namespace}/{use_case.name}-drift-monitor/{use_case.name}-drift-monitor"
    alerts = [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r]
    for alert in alerts:
        labels = {"alertname": alert["alert"], **alert["labels"], "model": use_case.model_name,
                  "namespace": namespace}
        expected = receiver if alert["labels"]["category"] in ("drift", "quality") else "default"
        assert _receivers_for(amtool, cluster_alertmanager, labels) == expected, alert["alert"]
    # The operator's namespace matcher: an alert without the label reaches no monitor.
    assert _receivers_for(amtool, cluster_alertmanager,
                          {"alertname": "x", "category": "drift", "model": use_case.model_name}) == "default"
