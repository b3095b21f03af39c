"""The configuration contract: for every component, the variables its code reads equal the variables
its rendered dev manifest sets, in both directions; every compiled pipeline task receives them.

"Read by the code" is measured, not declared: ``Settings.from_env(component=...)`` is given an
environment that records every name looked up (the CLI builds each component's settings that way).
The feature server is Feast's own CLI, which reads the ${VARS} of feature_store.prod.yaml.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from pipelines.compile import CONFIG_MAP, SECRET_VARIABLES, compile_all
from shipyard.settings import COMPONENT_VARIABLES, FEATURE_REPO, Settings
from shipyard.usecase import available_use_cases

pytestmark = pytest.mark.unit

# component -> (kind, name, container) of its workload in the rendered manifests
WORKLOADS = {
    "predictor": ("InferenceService", "fraud", "kserve-container"),
    "drift-monitor": ("Deployment", "fraud-drift-monitor", "drift-monitor"),
    "materializer": ("CronJob", "feature-materializer", "materializer"),
    "feature-server": ("Deployment", "feast-feature-server", "feast"),
}
# Process environment, not Shipyard settings: the container's HOME, thread pools.
NOT_SETTINGS = {"HOME", "OMP_NUM_THREADS"}


class RecordingEnv(Mapping):
    """A prod environment where every variable is set, recording the names looked up."""

    VALUES = {"SHIPYARD_PROFILE": "prod", "SHIPYARD_MLFLOW_TRACKING_URI": "http://mlflow:5000",
              "SHIPYARD_FEAST_REGISTRY_URI": "postgresql+psycopg2://feast@db/feast", "SHIPYARD_MODEL_VERSION": "3",
              "SHIPYARD_REDIS_URL": "redis://redis:6379/0", "SHIPYARD_HOME": "/tmp/shipyard",
              "SHIPYARD_RETENTION_DAYS": "30"}

    def __init__(self):
        self.read: set[str] = set()

    def __getitem__(self, name):
        self.read.add(name)
        return self.VALUES.get(name, "x" if name.startswith("SHIPYARD_") else None) or _missing(name)

    def get(self, name, default=None):
        self.read.add(name)
        return self.VALUES.get(name, "x" if name.startswith("SHIPYARD_") else default)

    def __iter__(self):
        return iter(self.VALUES)

    def __len__(self):
        return len(self.VALUES)


def _missing(name):
    raise KeyError(name)


def variables_read(component: str) -> set[str]:
    if component == "feature-server":
        return set(re.findall(r"\$\{(\w+)\}", (FEATURE_REPO / "feature_store.prod.yaml").read_text()))
    env = RecordingEnv()
    Settings.from_env(env, component=component)
    return env.read


def _container(docs: list[dict], kind: str, name: str, container: str) -> dict:
    from tests.manifests.test_manifests_policy import pod_specs

    [doc] = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    [(_, pod, _)] = pod_specs(doc)
    [found] = [c for c in pod["containers"] if c["name"] == container]
    return found


def variables_set(container: dict, docs: list[dict]) -> set[str]:
    names = {e["name"] for e in container.get("env", [])}
    for source in container.get("envFrom", []):  # whole ConfigMaps would set every key they hold
        ref = source.get("configMapRef") or source.get("secretRef")
        [held] = [d for d in docs if d["metadata"]["name"] == ref["name"]]
        names |= {source.get("prefix", "") + key for key in held.get("data", {})}
    return names - NOT_SETTINGS


@pytest.fixture(scope="module")
def dev(rendered_docs) -> list[dict]:
    return rendered_docs["dev"]


def test_every_component_has_a_workload_or_is_the_pipeline():
    assert set(COMPONENT_VARIABLES) - {"pipeline"} <= set(WORKLOADS)


def test_declared_variables_are_what_the_code_reads():
    for component, declared in COMPONENT_VARIABLES.items():
        assert variables_read(component) == declared, component


@pytest.mark.parametrize("component", sorted(WORKLOADS))
def test_manifest_sets_exactly_what_the_component_reads(dev, component):
    container = _container(dev, *WORKLOADS[component])
    read, set_ = variables_read(component), variables_set(container, dev)
    assert not read - set_, f"{component} reads {sorted(read - set_)}, which its manifest does not set"
    assert not set_ - read, f"{component}'s manifest sets {sorted(set_ - read)}, which it never reads"


@pytest.mark.parametrize("component", sorted(WORKLOADS))
def test_values_come_from_the_settings_config_map_or_a_secret(dev, component):
    config = next(d for d in dev if d["kind"] == "ConfigMap" and d["metadata"]["name"] == CONFIG_MAP)
    secrets = {d["spec"]["target"]["name"] for d in dev if d["kind"] == "ExternalSecret"}
    for entry in _container(dev, *WORKLOADS[component]).get("env", []):
        if entry["name"] in NOT_SETTINGS or entry["name"] == "SHIPYARD_MODEL_VERSION":  # pinned per overlay
            continue
        if entry["name"] == "SHIPYARD_USE_CASE" and "value" in entry:  # set by the use case's own Component
            assert entry["value"] == WORKLOADS[component][1].removesuffix("-drift-monitor"), (component, entry)
            continue
        source = entry.get("valueFrom", {})
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            assert ref["name"] == CONFIG_MAP and ref["key"] in config["data"], (component, entry)
        else:
            assert "secretKeyRef" in source and source["secretKeyRef"]["name"] in secrets, (component, entry)


def test_config_map_holds_a_valid_prod_configuration(dev):
    config = next(d for d in dev if d["kind"] == "ConfigMap" and d["metadata"]["name"] == CONFIG_MAP)["data"]
    env = {**config, "SHIPYARD_FEAST_REGISTRY_URI": "postgresql+psycopg2://feast@db/feast"}
    for component in COMPONENT_VARIABLES:
        settings = Settings.from_env(env, component=component)  # raises on a malformed value
        assert settings.profile == "prod"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> list[Path]:
    return compile_all(tmp_path_factory.mktemp("compiled"))


def task_environment(executor_config: dict) -> set[str]:
    names = {e["envVar"] for m in executor_config.get("configMapAsEnv", []) for e in m["keyToEnv"]}
    names |= {e["envVar"] for m in executor_config.get("secretAsEnv", []) for e in m["keyToEnv"]}
    return names


def test_every_compiled_task_receives_exactly_the_pipeline_variables(compiled, dev):
    config = next(d for d in dev if d["kind"] == "ConfigMap" and d["metadata"]["name"] == CONFIG_MAP)["data"]
    secrets = {d["spec"]["target"]["name"]: {e["secretKey"] for e in d["spec"]["data"]}
               for d in dev if d["kind"] == "ExternalSecret"}
    for path in compiled:
        pipeline, platform = list(yaml.safe_load_all(path.read_text()))
        executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
        assert set(executors) == set(pipeline["deploymentSpec"]["executors"]), path.name
        for name, executor in executors.items():
            assert task_environment(executor) == COMPONENT_VARIABLES["pipeline"], (path.name, name)
            for mapping in executor["configMapAsEnv"]:
                assert mapping["configMapName"] == CONFIG_MAP
                assert {e["configMapKey"] for e in mapping["keyToEnv"]} <= set(config), (path.name, name)
            for mapping in executor["secretAsEnv"]:
                assert {e["secretKey"] for e in mapping["keyToEnv"]} <= secrets[mapping["secretName"]]
            assert [m["mountPath"] for m in executor["pvcMount"]] == [config["SHIPYARD_OFFLINE_STORE_URI"]]
    assert set(SECRET_VARIABLES) <= COMPONENT_VARIABLES["pipeline"] | COMPONENT_VARIABLES["predictor"]


@pytest.mark.parametrize("use_case", available_use_cases())
def test_every_use_cases_predictor_and_monitor_set_what_the_components_read(dev, use_case):
    """The generated workloads of every use case, not only the first one's, meet the contract."""
    name = use_case.replace("_", "-")
    for component, (kind, workload, container) in (("predictor", ("InferenceService", name, "kserve-container")),
                                                   ("drift-monitor", ("Deployment", f"{name}-drift-monitor",
                                                                      "drift-monitor"))):
        set_ = variables_set(_container(dev, kind, workload, container), dev)
        assert set_ == variables_read(component), (use_case, component)
