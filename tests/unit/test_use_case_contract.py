"""Use cases are plug-ins: every installed one passes the contract checks, a scaffolded one passes as
written, and a broken one is refused with the problem named."""

import dataclasses
import importlib
import sys

import pytest
from typer.testing import CliRunner

from shipyard.usecase import DriftScenario, available_use_cases, load_use_case
from shipyard.usecase_checks import check_use_case
from shipyard_cli.main import app
from shipyard_cli.scaffold import ScaffoldError, scaffold_use_case

pytestmark = pytest.mark.unit
runner = CliRunner()


@pytest.mark.parametrize("name", available_use_cases())
def test_every_installed_use_case_passes_the_checks(name):
    report = check_use_case(load_use_case(name))
    assert report.passed, report.problems


def test_the_fraud_use_case_is_installed():
    assert "fraud" in available_use_cases()


@pytest.fixture
def scaffolded(tmp_path, monkeypatch):
    """A use case scaffolded into a package of its own, importable like a team's installed package."""
    root = tmp_path / "team_usecases"
    written = scaffold_use_case("churn", root, entity="account_id")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield written, importlib.import_module("team_usecases.churn").USE_CASE
    for module in [m for m in sys.modules if m.startswith("team_usecases")]:
        del sys.modules[module]


def test_a_scaffolded_use_case_passes_the_checks_as_written(scaffolded):
    written, use_case = scaffolded
    assert sorted(p.name for p in written) == ["__init__.py", "data.py", "features.py"]
    assert use_case.entity == "account_id" and use_case.feature_service == "churn_model_v1"
    report = check_use_case(use_case)
    assert report.passed, report.problems
    events = use_case.generate(50, 1, None)
    assert use_case.event_id == "event_id" and events["event_id"].is_unique
    assert (events["label_available_at"] > events[use_case.timestamp]).all()


@pytest.mark.parametrize("breakage, named", [
    (dict(entity="user_id"), "entity 'user_id' is not a request field"),
    (dict(feature_service="churn_model_v9"), "feature service 'churn_model_v9' is not defined"),
    (dict(scenarios={"x": DriftScenario("x", "", ("colour",))}), "scenario 'x' shifts columns the model does not see"),
    (dict(label="outcome"), "lack columns ['outcome']"),
    (dict(label_delay_days=-1), "label_delay_days must be 0 or more, got -1"),
    (dict(event_id="transaction_id"), "lack columns ['transaction_id']"),
])
def test_a_broken_contract_is_refused_with_the_problem_named(scaffolded, breakage, named):
    _, use_case = scaffolded
    report = check_use_case(dataclasses.replace(use_case, **breakage))
    assert not report.passed
    assert any(named in problem for problem in report.problems), report.problems


def test_scaffold_refuses_bad_names_and_existing_packages(tmp_path):
    with pytest.raises(ScaffoldError, match="lowercase Python identifier"):
        scaffold_use_case("Bad-Name", tmp_path)
    scaffold_use_case("eta", tmp_path)
    with pytest.raises(ScaffoldError, match="already exists"):
        scaffold_use_case("eta", tmp_path)


def test_new_use_case_command(tmp_path):
    result = runner.invoke(app, ["new-use-case", "eta", "--dir", str(tmp_path / "ucs")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ucs" / "eta" / "features.py").is_file()
    again = runner.invoke(app, ["new-use-case", "eta", "--dir", str(tmp_path / "ucs")])
    assert again.exit_code == 1 and "already exists" in again.output


def test_use_case_check_command_names_an_unknown_use_case():
    result = runner.invoke(app, ["use-case", "check", "weather"])
    assert result.exit_code == 1 and "unknown use case 'weather'" in result.output
    assert runner.invoke(app, ["use-case", "check", "fraud"]).exit_code == 0


def test_a_scaffolded_use_case_passes_the_deployment_contract_static_parts(scaffolded):
    """The parts of tests/unit/test_use_case_deployment_contract.py that need no store or model, and
    the deployment the manifests generator would make for it."""
    from shipyard.gitops_usecases import render_use_case
    from tests.unit.test_use_case_deployment_contract import feature_service_features, static_contract_problems

    _, use_case = scaffolded
    assert static_contract_problems(use_case) == []
    assert feature_service_features(use_case) == ["events_to_date", "mean_value_to_date"]
    import yaml

    docs = [d for text in render_use_case(use_case).values() for d in yaml.safe_load_all(text) if d]
    [isvc] = [d for d in docs if d.get("kind") == "InferenceService"]  # var-references.yaml has no kind
    assert isvc["metadata"]["name"] == "churn"
    assert {"name": "SHIPYARD_USE_CASE", "value": "churn"} in isvc["spec"]["predictor"]["containers"][0]["env"]
