"""Every pipeline compiles to IR that KFP's own protobuf parses strictly and its loaders load back."""

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from components import COMPONENT_IMAGE
from shipyard_cli.main import app

pytestmark = pytest.mark.unit

PIPELINES = {"training": "shipyard-training", "retraining": "shipyard-retraining",
             "batch-scoring": "shipyard-batch-scoring"}
# Steps reading state that changes between runs without a snapshot input must not be cached.
UNCACHED = {"training": {"validate-op", "register-op", "gate-op", "promote-op"},
            "retraining": {"validate-op", "register-op", "gate-op", "promote-op"},
            "batch-scoring": {"score-op"}}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("compiled")
    result = CliRunner().invoke(app, ["pipeline", "compile", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("name", PIPELINES)
def test_compiled_pipeline_parses_strictly_and_loads_back(compiled, name):
    from google.protobuf import json_format
    from kfp import components
    from kfp.pipeline_spec import pipeline_spec_pb2

    path = compiled / f"{name}.yaml"
    spec = yaml.safe_load(path.read_text())
    parsed = json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())  # unknown fields raise
    assert parsed.pipeline_info.name == PIPELINES[name]
    loaded = components.load_component_from_file(str(path))
    assert loaded.name == PIPELINES[name]
    assert set(loaded.component_spec.inputs) == set(spec["root"]["inputDefinitions"]["parameters"])


@pytest.mark.parametrize("name", PIPELINES)
def test_every_component_runs_in_the_project_image(compiled, name):
    spec = yaml.safe_load((compiled / f"{name}.yaml").read_text())
    executors = spec["deploymentSpec"]["executors"]
    assert executors, "a pipeline without executors"
    for executor, body in executors.items():
        assert body["container"]["image"] == COMPONENT_IMAGE, executor
        # The image has the project and kfp installed: nothing is pip-installed at run time.
        assert "pip install" not in " ".join(body["container"]["command"]), executor


@pytest.mark.parametrize("name", PIPELINES)
def test_steps_reading_live_state_are_not_cached(compiled, name):
    spec = yaml.safe_load((compiled / f"{name}.yaml").read_text())
    tasks = spec["root"]["dag"]["tasks"]
    uncached = {task for task, body in tasks.items() if not body.get("cachingOptions", {}).get("enableCache")}
    assert uncached == UNCACHED[name]


def test_training_parameters_are_typed(compiled):
    parameters = yaml.safe_load((compiled / "training.yaml").read_text())["root"]["inputDefinitions"]["parameters"]
    assert parameters["min_roc_auc"]["parameterType"] == "NUMBER_DOUBLE"
    assert parameters["tolerance"]["parameterType"] == "NUMBER_DOUBLE"
    assert parameters["max_iter"]["parameterType"] == "NUMBER_INTEGER"
    assert parameters["model_family"]["parameterType"] == "STRING"
    assert parameters["data_snapshot"]["parameterType"] == "STRING"
    retraining = yaml.safe_load((compiled / "retraining.yaml").read_text())["root"]["inputDefinitions"]["parameters"]
    assert {"reason", "idempotency_key"} <= set(retraining)
    assert not retraining["reason"].get("isOptional") and not retraining["idempotency_key"].get("isOptional")


def test_training_dag_goes_through_validation_and_the_gate(compiled):
    tasks = yaml.safe_load((compiled / "training.yaml").read_text())["root"]["dag"]["tasks"]
    assert "validate-op" in tasks["train-op"]["dependentTasks"]
    assert "register-op" in tasks["gate-op"]["dependentTasks"]
    assert "validate-op" in tasks["register-op"]["dependentTasks"]  # the report is logged with the model
