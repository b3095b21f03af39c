"""The KFP upload/recurring-run script shipped in a ConfigMap is idempotent (fake KFP client)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace as NS

import pytest

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
        self.pipelines, self.versions, self.runs, self.calls = {}, {}, {}, []

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
                             max_concurrency, no_catchup):
        self.calls.append("create_recurring_run")
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
