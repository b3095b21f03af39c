"""Every installed use case is deployed by its generated Component (manifests/usecases/<name>/): a
predictor and a drift monitor per use case, side by side in every overlay, each pinned by its own
one-line file, scraped by its own ServiceMonitors, reading and writing only its own prediction log."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from shipyard import gitops, gitops_render, gitops_usecases
from shipyard.usecase import available_use_cases, load_use_case

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = gitops.ENVIRONMENTS
USE_CASES = [load_use_case(name) for name in available_use_cases()]


def _one(docs: list[dict], kind: str, name: str) -> dict:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def _env(container: dict) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container["env"]}


def test_generated_use_case_components_and_pins_are_up_to_date():
    files = gitops_usecases.render_use_cases(USE_CASES)
    assert gitops_render.stale_files(ROOT, files) == [], "run: make manifests-generate"
    folders = {p.name for p in (ROOT / gitops_usecases.USECASES_DIR).iterdir() if p.is_dir()}
    assert folders == set(available_use_cases())
    assert gitops_usecases.pin_problems(ROOT, USE_CASES) == []


def test_at_least_two_use_cases_run_side_by_side():
    assert len(USE_CASES) >= 2
    assert len({u.model_name for u in USE_CASES}) == len(USE_CASES)


@pytest.mark.parametrize("env", OVERLAYS)
@pytest.mark.parametrize("use_case", USE_CASES, ids=lambda u: u.name)
def test_each_use_case_has_its_predictor_and_monitor_pinned_by_its_own_file(rendered_docs, env, use_case):
    docs = rendered_docs[env]
    pin = ROOT / gitops.pin_path(ROOT, env, use_case.model_name)
    version = yaml.safe_load(pin.read_text())["data"]["SHIPYARD_MODEL_VERSION"]
    isvc = _one(docs, "InferenceService", use_case.name)
    [predictor] = isvc["spec"]["predictor"]["containers"]
    monitor_pod = _one(docs, "Deployment", f"{use_case.name}-drift-monitor")["spec"]["template"]["spec"]
    [monitor] = monitor_pod["containers"]
    for container in (predictor, monitor):
        assert _env(container)["SHIPYARD_USE_CASE"] == use_case.name
        assert _env(container)["SHIPYARD_MODEL_VERSION"] == version
        [log] = [m for m in container["volumeMounts"] if m["name"] == "prediction-log"]
        assert log["subPath"] == use_case.name  # its own directory of the shared log volume
    assert predictor["readinessProbe"]["httpGet"]["path"] == f"/v2/models/{use_case.model_name}/ready"
    assert isvc["spec"]["predictor"]["labels"]["shipyard.io/use-case"] == use_case.name


@pytest.mark.parametrize("env", OVERLAYS)
@pytest.mark.parametrize("use_case", USE_CASES, ids=lambda u: u.name)
def test_each_use_case_is_scraped_by_its_own_service_monitors(rendered_docs, env, use_case):
    docs = rendered_docs[env]
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    predictor_pod = {"serving.kserve.io/inferenceservice": use_case.name, "component": "predictor"}
    monitor_pod = _one(docs, "Deployment", f"{use_case.name}-drift-monitor")["spec"]["template"]["metadata"]["labels"]
    for name, pod_labels in ((f"{use_case.name}-predictor", predictor_pod),
                             (f"{use_case.name}-drift-monitor", monitor_pod)):
        monitor = _one(docs, "ServiceMonitor", name)
        wanted = monitor["spec"]["selector"]["matchLabels"]
        [service] = [s for s in services.values() if wanted.items() <= s["metadata"]["labels"].items()]
        assert service["spec"]["selector"].items() <= pod_labels.items(), name
        [endpoint] = monitor["spec"]["endpoints"]
        assert {"targetLabel": "use_case", "replacement": use_case.name} in endpoint["relabelings"]


def test_pin_files_are_distinct_per_use_case_and_environment():
    pins = {(env, u.name): gitops.pin_path(ROOT, env, u.model_name) for env in OVERLAYS for u in USE_CASES}
    assert len(set(pins.values())) == len(pins)


def test_a_new_use_case_gets_a_component_a_pin_per_environment_and_renders(tmp_path, kubectl):
    """What `make manifests-generate` does for a newly installed use case, in a copy of manifests/."""
    shutil.copytree(ROOT / "manifests", tmp_path / "manifests")
    # A package name may hold underscores; Kubernetes names may not.
    late = dataclasses.replace(USE_CASES[0], name="late_fees", model_name="late_fees")
    use_cases = [*USE_CASES, late]
    problems = gitops_usecases.pin_problems(tmp_path, use_cases)
    assert "manifests/overlays/dev/model-version-late_fees.yaml is missing" in problems
    gitops_render.write_files(tmp_path, gitops_usecases.render_use_cases(use_cases))
    changed = gitops_usecases.write_pins(tmp_path, use_cases)
    assert {p.relative_to(tmp_path).as_posix() for p in changed} == {
        f"manifests/overlays/{env}/{name}" for env in OVERLAYS
        for name in ("model-version-late_fees.yaml", "kustomization.yaml")}
    assert gitops_usecases.write_pins(tmp_path, use_cases) == []  # the pins now belong to promotion
    assert gitops_usecases.pin_problems(tmp_path, use_cases) == []
    done = subprocess.run([kubectl, "kustomize", str(tmp_path / "manifests/overlays/dev")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    docs = [d for d in yaml.safe_load_all(done.stdout) if d]
    [predictor] = _one(docs, "InferenceService", "late-fees")["spec"]["predictor"]["containers"]
    assert _env(predictor)["SHIPYARD_MODEL_VERSION"] == "1" and _env(predictor)["SHIPYARD_USE_CASE"] == "late_fees"
    assert _one(docs, "Deployment", "late-fees-drift-monitor")
    dns = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    assert all(dns.match(d["metadata"]["name"]) for d in docs), [d["metadata"]["name"] for d in docs]
    assert gitops.pin_path(tmp_path, "dev", "late_fees") == Path("manifests/overlays/dev/model-version-late_fees.yaml")
