"""One contract per use case, end to end: its Feast FeatureService and request fields are the model's
signature, the drift monitor compares exactly those inputs, every dashboard query and alert keeps
use cases apart by the ``model`` label, and the generated manifests name the use case and its model
consistently. The last tests check that the second use case is a plug-in: its files are its own and
no platform package names it (the generated manifests/usecases/ and overlay pins do, by design)."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from shipyard.usecase import UseCase, available_use_cases, load_use_case

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
USE_CASES = [load_use_case(name) for name in available_use_cases()]
RULES = yaml.safe_load((ROOT / "monitoring/prometheus/rules.yaml").read_text())
METRICS = {name: spec for section in yaml.safe_load((ROOT / "monitoring/prometheus/metrics.yaml").read_text()).values()
           for name, spec in section.items()}
DASHBOARDS = sorted((ROOT / "monitoring/grafana/dashboards").glob("*.json"))
MLFLOW_KIND = {"int": "long", "float": "double", "category": "string"}


# --- static contract: what a use case declares -------------------------------------------------

def feature_service_features(use_case: UseCase) -> list[str]:
    """The FeatureService's features, in order, from the use case's Feast definitions."""
    from feast import FeatureService

    module = importlib.import_module(use_case.feature_module)
    [service] = [o for o in vars(module).values()
                 if isinstance(o, FeatureService) and o.name == use_case.feature_service]
    return [f.name for projection in service.feature_view_projections for f in projection.features]


def feature_view_names(use_case: UseCase) -> set[str]:
    from feast import FeatureView

    module = importlib.import_module(use_case.feature_module)
    return {o.name for o in vars(module).values() if isinstance(o, FeatureView)}


def static_contract_problems(use_case: UseCase) -> list[str]:
    """The parts of the contract that need no store or model: shared by installed and scaffolded use cases."""
    problems = []
    features = feature_service_features(use_case)
    request = [f.name for f in use_case.model_request_fields]
    if overlap := set(features) & set(request):
        problems.append(f"both a feature and a request field: {sorted(overlap)}")
    if use_case.entity in features or use_case.entity in request:
        problems.append("the entity key selects features; it is no model input")
    if not use_case.model_name or use_case.model_name != re.sub(r"[^a-z0-9-]", "", use_case.model_name):
        problems.append(f"model name {use_case.model_name!r} must be a lowercase DNS label (it names the predictor)")
    return problems


@pytest.mark.parametrize("use_case", USE_CASES, ids=lambda u: u.name)
def test_static_contract(use_case):
    assert static_contract_problems(use_case) == []


def test_use_cases_share_the_feast_project_without_name_clashes():
    """One Feast project serves every use case: services and views must not collide (the feature
    freshness series are labelled by feature_view only, so distinct views keep them apart)."""
    services = [u.feature_service for u in USE_CASES]
    assert len(set(services)) == len(services)
    views = [feature_view_names(u) for u in USE_CASES]
    for i, mine in enumerate(views):
        for other in views[i + 1:]:
            assert not mine & other, f"feature views in two use cases: {sorted(mine & other)}"


# --- the model's signature and the drift columns, through the pipeline's own code ---------------

@pytest.fixture
def store(shipyard_home):
    from shipyard import features

    def _store(use_case: UseCase):
        features.apply(shipyard_home, use_case)
        return features.feature_store(shipyard_home)

    return _store


def _training_frame(use_case: UseCase, columns: list[str], kinds: dict[str, str], rows: int = 300) -> pd.DataFrame:
    """Generated events (request fields, label) with feature columns of their contract kind."""
    events = use_case.generate(rows, 3, None).reset_index(drop=True)
    rng = np.random.default_rng(0)
    frame = events[[f.name for f in use_case.model_request_fields] + [use_case.label]].copy()
    for column in columns:
        if column not in frame:
            frame[column] = (rng.integers(0, 50, rows) if kinds[column] == "int" else
                             rng.random(rows) * 10 if kinds[column] == "float" else rng.choice(["a", "b"], rows))
    return frame


@pytest.mark.parametrize("use_case", USE_CASES, ids=lambda u: u.name)
def test_feature_service_and_request_fields_are_the_signature_and_the_drift_columns(store, use_case):
    from components.feature_checks import contract_types
    from components.register import PANDAS_TYPES, contract_signature
    from components.train import predictions_of, train_model
    from monitoring.drift_compute import compute_drift
    from monitoring.reference import Reference
    from shipyard import features

    feast_store = store(use_case)
    service, feature_names = features.contract(feast_store, use_case)  # what the pipeline joins
    assert feature_names == feature_service_features(use_case)
    inputs = [f.name for f in use_case.model_request_fields] + feature_names  # build_training_set's columns
    kinds = contract_types(feast_store, use_case)
    assert set(kinds) == set(inputs)

    frame = _training_frame(use_case, inputs, kinds)
    model = train_model(frame, inputs, use_case.categorical_columns(), use_case.label, max_iter=5, task=use_case.task)
    example = frame[inputs].head(5).astype({c: PANDAS_TYPES[kinds[c]] for c in inputs})
    signature = contract_signature(inputs, kinds, example, predictions_of(model, example, inputs, use_case.task),
                                   output_name=use_case.output_name if use_case.is_regression else None)
    assert signature.inputs.input_names() == inputs
    assert {s.name: s.type.name for s in signature.inputs.inputs} == {c: MLFLOW_KIND[kinds[c]] for c in inputs}
    assert list(model.feature_names_in_) == inputs

    # The monitor's reference takes the signature's inputs (registry.input_columns) and the use case's
    # categorical columns; the drift run compares exactly those, nothing else.
    reference = Reference(1, signature.inputs.input_names(),
                          [c for c in signature.inputs.input_names() if c in use_case.categorical_columns()],
                          frame, len(frame))
    current = _training_frame(use_case, inputs, kinds).sample(frac=1.0, random_state=1)
    drift = compute_drift(reference.frame, current, reference.numerical, reference.categorical)
    assert sorted([f.feature for f in drift.features] + list(drift.skipped)) == sorted(inputs)


# --- metrics: two use cases never mix ------------------------------------------------------------

_SELECTOR = re.compile(r"(?<![\w:$])([a-zA-Z_:][\w:]*)\s*(\{[^{}]*\})?(?!\s*\()")
_CLAUSE = re.compile(r"\b(by|on|without|ignoring)\s*\(([^()]*)\)")
_BARE_AGGREGATION = re.compile(r"\b(sum|avg|min|max|count|group|stddev|stdvar|topk|bottomk|quantile)\s*\(")
_ABSENT = re.compile(r"\babsent\s*\([^()]*\)")


def _recorded_labels() -> dict[str, set[str]]:
    labels = {}
    for group in RULES["groups"]:
        for rule in group["rules"]:
            if "record" in rule:
                labels[rule["record"]] = {label.strip() for _, found in _CLAUSE.findall(rule["expr"])
                                          for label in found.split(",")} if " by " in f" {rule['expr']}" else set()
    return labels


def _metric_labels(name: str, recorded: dict[str, set[str]]) -> set[str] | None:
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    if name in recorded:
        return recorded[name]
    spec = METRICS.get(name) or METRICS.get(base)
    return set(spec["labels"]) if spec else None


def _metrics_in(expr: str, recorded: dict[str, set[str]]) -> list[str]:
    text = re.sub(r'"[^"]*"', '""', _CLAUSE.sub("", expr))
    return [m for m, _ in _SELECTOR.findall(text) if _metric_labels(m, recorded) is not None]


def model_mixing_problems(expr: str, recorded: dict[str, set[str]]) -> list[str]:
    """Why an expression's result could combine two models' series (empty: it keeps them apart).

    Series labelled only by feature_view (the pushed feature freshness) belong to the shared feature
    store, not to a model; their views are distinct per use case (test above)."""
    problems = []
    metrics = _metrics_in(expr, recorded)
    if metrics and all("model" not in _metric_labels(m, recorded) and "feature_view" in _metric_labels(m, recorded)
                       for m in metrics):
        return []
    rest = _ABSENT.sub("", expr)  # absent() has no labels to keep; what remains must
    if not _metrics_in(rest, recorded):
        problems.append("only absent(): a model whose series is missing is hidden by another model's")
    for metric in _metrics_in(rest, recorded):
        if "model" not in _metric_labels(metric, recorded):
            problems.append(f"{metric} has no model label")
    for keyword, labels in _CLAUSE.findall(rest):
        names = {label.strip() for label in labels.split(",")}
        if (keyword in ("by", "on")) != ("model" in names):
            problems.append(f"{keyword} ({labels}) drops or ignores the model label")
    if _BARE_AGGREGATION.search(rest):
        problems.append("an aggregation without `by (model, ...)`")
    return problems


def test_every_alert_and_recording_rule_keeps_models_apart():
    recorded = _recorded_labels()
    problems = {}
    for group in RULES["groups"]:
        for rule in group["rules"]:
            found = model_mixing_problems(rule["expr"], recorded)
            name = rule.get("alert") or rule.get("record")
            if "alert" in rule and _metrics_in(rule["expr"], recorded) and not found and any(
                    "model" in (_metric_labels(m, recorded) or ()) for m in _metrics_in(rule["expr"], recorded)):
                if "$labels.model" not in rule["annotations"]["summary"]:
                    found.append("the summary does not name the model")
            if found:
                problems[name] = found
    assert problems == {}


@pytest.mark.parametrize("expr, named", [
    ("sum(rate(shipyard_requests_total[5m])) > 1", "aggregation without"),
    ("sum by (version) (rate(shipyard_requests_total[5m])) > 1", "by (version) drops"),
    ("shipyard_drift_share and on (version) shipyard_dataset_drift", "on (version) drops"),
    ("absent(shipyard_drift_share)", "only absent()"),
])
def test_the_mixing_check_catches_rules_that_mix_models(expr, named):
    problems = model_mixing_problems(expr, _recorded_labels())
    assert any(named in p for p in problems), problems


def _dashboard_exprs(dashboard: dict) -> list[str]:
    panels = list(dashboard.get("panels", []))
    for panel in list(panels):
        panels += panel.get("panels", [])
    return [t["expr"] for p in panels for t in p.get("targets", []) if t.get("expr")]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_dashboard_query_selects_one_model(path):
    """Each query selects model="$model" on every model-labelled series (the dashboard's model variable)."""
    dashboard = json.loads(path.read_text())
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert "model" in variables and ", model)" in variables["model"]["query"]["query"]
    recorded = _recorded_labels()
    for expr in _dashboard_exprs(dashboard):
        text = re.sub(r"\[[^\[\]]*\]", "", expr)
        for metric, matchers in _SELECTOR.findall(_CLAUSE.sub("", text)):
            labels = _metric_labels(metric, recorded)
            if labels is None:
                continue
            if "model" in labels:
                assert 'model="$model"' in matchers, f"{path.name}: {metric} in {expr!r} is not filtered by model"
            else:
                assert "feature_view" in labels, f"{path.name}: {metric} carries neither model nor feature_view"


# --- the generated manifests name each use case consistently --------------------------------------

@pytest.mark.parametrize("use_case", USE_CASES, ids=lambda u: u.name)
def test_generated_manifests_name_the_use_case_and_its_model(use_case):
    from shipyard import gitops, gitops_usecases

    files = gitops_usecases.render_use_case(use_case)
    docs = [d for text in files.values() for d in yaml.safe_load_all(text) if d]
    # .get: the Component's kustomize configuration (var-references.yaml) is not an object.
    [isvc] = [d for d in docs if d.get("kind") == "InferenceService"]
    [monitor] = [d for d in docs if d.get("kind") == "Deployment"]
    assert isvc["metadata"]["name"] == use_case.name
    predictor = isvc["spec"]["predictor"]["containers"][0]
    assert predictor["readinessProbe"]["httpGet"]["path"] == f"/v2/models/{use_case.model_name}/ready"
    for container in (predictor, monitor["spec"]["template"]["spec"]["containers"][0]):
        assert {"name": "SHIPYARD_USE_CASE", "value": use_case.name} in container["env"]
    for env in gitops.ENVIRONMENTS:
        pin = yaml.safe_load((ROOT / gitops.pin_path(ROOT, env, use_case.model_name)).read_text())
        assert pin["data"]["SHIPYARD_MODEL_NAME"] == use_case.model_name
        assert pin["metadata"]["name"] == f"model-pin-{use_case.name}"


# --- the second use case is a plug-in --------------------------------------------------------------

PLATFORM = ("shipyard", "shipyard_cli", "components", "pipelines", "monitoring", "feature_repo", "manifests/base")
SECOND = "delivery"
# What the second use case owns: its package. Generated per-use-case deployment files name it by design.
OWNED = {"usecases/delivery/__init__.py", "usecases/delivery/data.py", "usecases/delivery/features.py"}
GENERATED_FOR_IT = ("manifests/usecases/delivery/", "manifests/overlays/")


def test_the_second_use_case_owns_exactly_its_package():
    files = {p.relative_to(ROOT).as_posix() for p in (ROOT / "usecases" / SECOND).rglob("*")
             if p.is_file() and "__pycache__" not in p.parts}
    assert files == OWNED
    assert load_use_case(SECOND).feature_module.startswith(f"usecases.{SECOND}")


# The English word, not the use case: a webhook's second delivery of the same alert.
ENGLISH_USES = {("pipelines/run_records.py", "a second delivery waits for the first to finish")}


def identifiers(use_case: UseCase) -> set[str]:
    """Names the use case introduces and no other installed use case uses."""
    own = {use_case.name, use_case.model_name, use_case.feature_service, use_case.entity, use_case.event_id,
           use_case.label, *feature_view_names(use_case), *feature_service_features(use_case),
           *(f.name for f in use_case.request_fields), *use_case.scenarios}
    for other in USE_CASES:
        if other.name != use_case.name:
            own -= {other.entity, other.event_id, other.label, *(f.name for f in other.request_fields),
                    *feature_service_features(other)}
    return own


def platform_mentions(word: str) -> list[str]:
    pattern = re.compile(rf"\b{re.escape(word)}\b", re.I)
    found = []
    for top in PLATFORM:
        for path in sorted((ROOT / top).rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts or path.suffix in (".pyc", ".parquet", ".db"):
                continue
            try:
                text = path.read_text()
            except UnicodeDecodeError:
                continue
            rel = path.relative_to(ROOT).as_posix()
            found += [f"{rel}:{n}: {line.strip()}" for n, line in enumerate(text.splitlines(), 1)
                      if pattern.search(line) and not any(rel == f and phrase in line for f, phrase in ENGLISH_USES)]
    return found


@pytest.mark.parametrize("word", sorted(identifiers(load_use_case(SECOND))))
def test_no_platform_package_names_the_second_use_case(word):
    assert platform_mentions(word) == []


def test_the_mention_check_finds_a_mention():
    assert platform_mentions("redis")  # a word the platform does use: the scan reads the files
    assert "delivery" in identifiers(load_use_case(SECOND)) and "hour" not in identifiers(load_use_case(SECOND))
