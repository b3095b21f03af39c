"""The committed generated manifests (PrometheusRule, dashboards, trimmed CRD schemas) are up to
date with their sources, and the generator builds the objects the operators expect."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from shipyard import gitops_render
from tests.conftest import fail_in_ci_else_skip

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT.parent / "shared" / "reference" / "crds"


def test_generated_monitoring_manifests_are_up_to_date():
    files = gitops_render.render_monitoring(ROOT)
    assert gitops_render.stale_files(ROOT, files) == [], "run: python -m shipyard.gitops_render"
    committed = {p.relative_to(ROOT) for p in (ROOT / gitops_render.GENERATED_DIR).glob("*.yaml")}
    assert committed == set(files), "generated/ holds files no source produces"


def test_prometheus_rule_carries_the_rule_file_groups_unchanged():
    source = ROOT / gitops_render.RULES_SOURCE
    generated = ROOT / gitops_render.GENERATED_DIR / "prometheusrule.yaml"
    rule = yaml.safe_load(generated.read_text())
    assert rule["kind"] == "PrometheusRule"
    assert rule["spec"]["groups"] == yaml.safe_load(source.read_text())["groups"]


def test_prometheus_rule_requires_groups():
    with pytest.raises(ValueError, match="groups"):
        gitops_render.prometheus_rule({"rules": []})


def test_dashboard_configmap_is_picked_up_by_the_grafana_sidecar():
    cm = gitops_render.dashboard_configmap("Fraud Serving", {"title": "Fraud", "panels": []})
    assert cm["metadata"]["name"] == "grafana-dashboard-fraud-serving"
    assert cm["metadata"]["labels"] == {"grafana_dashboard": "1"}
    assert json.loads(cm["data"]["fraud-serving.json"]) == {"title": "Fraud", "panels": []}
    # Block style keeps a dashboard diff readable line by line.
    assert "fraud-serving.json: |" in gitops_render.dump_yaml(cm)


def test_generator_writes_removes_and_checks(tmp_path):
    (tmp_path / "monitoring/grafana/dashboards").mkdir(parents=True)
    (tmp_path / "monitoring/prometheus").mkdir(parents=True)
    (tmp_path / "monitoring/prometheus/rules.yaml").write_text("groups: []\n")
    board = tmp_path / "monitoring/grafana/dashboards/serving.json"
    board.write_text('{"title": "Serving"}')
    assert gitops_render.main(["--root", str(tmp_path)]) == 0
    assert gitops_render.main(["--root", str(tmp_path), "--check"]) == 0
    generated = tmp_path / gitops_render.GENERATED_DIR
    assert (generated / "dashboard-serving.yaml").is_file()
    board.write_text('{"title": "Serving v2"}')
    assert gitops_render.main(["--root", str(tmp_path), "--check"]) == 1
    board.unlink()
    assert gitops_render.main(["--root", str(tmp_path)]) == 0
    assert not (generated / "dashboard-serving.yaml").exists()
    kustomization = yaml.safe_load((generated / "kustomization.yaml").read_text())
    assert kustomization["resources"] == ["prometheusrule.yaml"]


def test_trimmed_crd_schemas_match_the_reference_crds():
    if not CRDS.is_dir():
        # CI runs with shared/ beside the clone: there a missing copy is a failure, not a skip.
        reason = f"reference CRDs not beside the checkout ({CRDS.relative_to(ROOT.parent)})"
        fail_in_ci_else_skip(reason)
    files = gitops_render.render_schemas(CRDS)
    assert gitops_render.stale_files(ROOT, files) == [], (
        "run: python -m shipyard.gitops_render --crds ../shared/reference/crds")


def test_trim_keeps_fields_named_description_and_drops_doc_strings():
    crd = {"spec": {"group": "g.io", "names": {"kind": "K"}, "versions": [{
        "name": "v1", "storage": True, "schema": {"openAPIV3Schema": {
            "type": "object", "description": "doc", "properties": {
                "spec": {"type": "object", "properties": {
                    "description": {"type": "string", "description": "doc"},
                    "unused": {"type": "string"}}},
                "status": {"type": "object"}}}}}]}}
    schema = gitops_render.trim_crd(crd, [("properties", "spec", "properties", "unused")], "x")
    assert schema["properties"]["spec"]["properties"] == {"description": {"type": "string"}}
    assert "status" not in schema["properties"] and "description" not in schema
    assert schema["x-shipyard-gvk"] == {"group": "g.io", "version": "v1", "kind": "K"}
