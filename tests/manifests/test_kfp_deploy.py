"""The KFP upload/recurring-run script shipped in a ConfigMap is idempotent (fake KFP client)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace as NS

import pytest
import yaml

pytestmark = pytest.mark.unit

SCRIPT = Path(__file__).resolve().parents[2] / "manifests/base/pipelines/kfp_deploy.py"


@pytest.fixture(scope="module")
def kfp_deploy():
    spec = importlib.util.spec_from_file_location("kfp_deploy", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeKfp:
    def __init__(self):
        self.pipelines, self.versions, self.runs, self.calls, self.params = {}, {}, {}, [], []

    def get_pipeline_id(self, name):
        return self.pipelines.get(name)

    def upload_pipeline(self, package, pipeline_name):
        self.calls.append("upload_pipeline")
        self.pipelines[pipeline_name] = f"p-{pipeline_name}"
        return NS(pipeline_id=self.pipelines[pipeline_name])

    def list_pipeline_versions(self, pipeline_id, page_size):
        return NS(pipeline_versions=[NS(display_name=n, pipeline_version_id=i)
                                     for n, i in self.versions.items()] or None)

    def upload_pipeline_version(self, package, name, pipeline_id):
        self.calls.append("upload_pipeline_version")
        self.versions[name] = f"v-{name}"
        return NS(pipeline_version_id=self.versions[name])

    def list_recurring_runs(self, experiment_id, page_size):
        return NS(recurring_runs=[NS(display_name=n, recurring_run_id=i,
                                     pipeline_version_reference=NS(pipeline_version_id=v))
                                  for i, (n, v) in self.runs.items()] or None)

    def delete_recurring_run(self, run_id):
        self.calls.append("delete_recurring_run")
        del self.runs[run_id]

    def create_recurring_run(self, experiment_id, job, *, cron_expression, pipeline_id, version_id,
                             params, max_concurrency, no_catchup):
        self.calls.append("create_recurring_run")
        self.params.append(params)
        run_id = f"r{len(self.calls)}"
        self.runs[run_id] = (job, version_id)
        return NS(recurring_run_id=run_id)


def _deploy(mod, client, version):
    pipeline_id, version_id = mod.ensure_pipeline_version(client, "t.yaml", "shipyard-training", version)
    return mod.ensure_recurring_run(client, "e1", "nightly", pipeline_id, version_id, "0 0 3 * * *")


def test_second_deploy_of_the_same_version_changes_nothing(kfp_deploy):
    client = FakeKfp()
    first = _deploy(kfp_deploy, client, "0.1.0")
    calls = list(client.calls)
    assert _deploy(kfp_deploy, client, "0.1.0") == first
    assert client.calls == calls == ["upload_pipeline", "upload_pipeline_version", "create_recurring_run"]


def test_new_version_replaces_the_recurring_run(kfp_deploy):
    client = FakeKfp()
    _deploy(kfp_deploy, client, "0.1.0")
    _deploy(kfp_deploy, client, "0.2.0")
    assert [v for _, v in client.runs.values()] == ["v-0.2.0"]
    assert client.calls.count("upload_pipeline") == 1


def _deployer_env(rendered_docs) -> dict[str, str]:
    [job] = [d for d in rendered_docs["dev"] if d["kind"] == "Job" and d["metadata"]["name"] == "kfp-deployer"]
    return {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}


def test_recurring_run_passes_every_required_parameter_of_the_compiled_pipeline(kfp_deploy, rendered_docs,
                                                                               tmp_path):
    """Both sides parsed: the compiled training YAML's parameters and the rendered Job's arguments."""
    import json

    from pipelines.compile import compile_pipeline
    from pipelines.submit import pipeline_parameters

    env = _deployer_env(rendered_docs)
    package = compile_pipeline("training", tmp_path)
    assert Path(env["SHIPYARD_PIPELINE_PACKAGE"]).name == package.name
    arguments = json.loads(env["SHIPYARD_RECURRING_ARGUMENTS"])
    required = kfp_deploy.required_parameters(str(package))
    assert required <= set(arguments)  # the checker itself is shown to refuse a missing one below
    assert set(arguments) <= set(pipeline_parameters(package)), "an argument the pipeline does not have"
    assert kfp_deploy.run_arguments(str(package), env["SHIPYARD_RECURRING_ARGUMENTS"]) == arguments


def test_deployer_refuses_arguments_without_a_required_parameter(kfp_deploy, tmp_path):
    """A pipeline with a parameter that has no default: the deployer refuses arguments lacking it.

    The package holds only what KFP's IR says of the root's inputs (the part the deployer reads).
    """
    package = tmp_path / "needs-a-window.yaml"
    package.write_text(yaml.safe_dump({"pipelineInfo": {"name": "needs-a-window"}, "root": {"inputDefinitions": {
        "parameters": {"window": {"parameterType": "STRING"},
                       "days": {"parameterType": "NUMBER_INTEGER", "defaultValue": 3, "isOptional": True}}}}}))
    package = str(package)
    assert kfp_deploy.required_parameters(package) == {"window"}
    with pytest.raises(SystemExit, match="lacks the pipeline's required parameters window"):
        kfp_deploy.run_arguments(package, '{"days": 4}')
    assert kfp_deploy.run_arguments(package, '{"window": "7d"}') == {"window": "7d"}
    with pytest.raises(SystemExit, match="is not JSON"):
        kfp_deploy.run_arguments(package, "{window")


def test_recurring_run_is_created_with_its_arguments(kfp_deploy):
    client = FakeKfp()
    pipeline_id, version_id = kfp_deploy.ensure_pipeline_version(client, "t.yaml", "shipyard-training", "0.1.0")
    kfp_deploy.ensure_recurring_run(client, "e1", "nightly", pipeline_id, version_id, "0 0 3 * * *",
                                    {"events_path": "/x"})
    assert client.params == [{"events_path": "/x"}]
