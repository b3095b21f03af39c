"""Every pipeline compiles to IR that KFP's own protobuf parses strictly and its loaders load back."""

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from components import COMPONENT_IMAGE
from shipyard_cli.main import app

pytestmark = pytest.mark.unit

PIPELINES = {"training": "shipyard-training", "batch-scoring": "shipyard-batch-scoring"}
# Steps reading state that changes between runs without a snapshot input must not be cached.
UNCACHED = {"training": {"build-training-set-op", "validate-op", "register-op", "gate-op", "promote-op"},
            "batch-scoring": {"score-op"}}


def _spec(compiled: Path, name: str) -> dict:
    """The pipeline spec: the first YAML document (the second is the Kubernetes platform config)."""
    return next(yaml.safe_load_all((compiled / f"{name}.yaml").read_text()))


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
    spec = next(yaml.safe_load_all(path.read_text()))  # the second document: the Kubernetes platform config
    parsed = json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())  # unknown fields raise
    assert parsed.pipeline_info.name == PIPELINES[name]
    loaded = components.load_component_from_file(str(path))
    assert loaded.name == PIPELINES[name]
    assert set(loaded.component_spec.inputs) == set(spec["root"]["inputDefinitions"]["parameters"])


@pytest.mark.parametrize("name", PIPELINES)
def test_every_component_runs_in_the_project_image(compiled, name):
    spec = _spec(compiled, name)
    executors = spec["deploymentSpec"]["executors"]
    assert executors, "a pipeline without executors"
    for executor, body in executors.items():
        assert body["container"]["image"] == COMPONENT_IMAGE, executor
        # The image has the project and kfp installed: nothing is pip-installed at run time.
        assert "pip install" not in " ".join(body["container"]["command"]), executor


@pytest.mark.parametrize("name", PIPELINES)
def test_steps_reading_live_state_are_not_cached(compiled, name):
    spec = _spec(compiled, name)
    tasks = spec["root"]["dag"]["tasks"]
    uncached = {task for task, body in tasks.items() if not body.get("cachingOptions", {}).get("enableCache")}
    assert uncached == UNCACHED[name]


def test_training_parameters_are_typed(compiled):
    parameters = _spec(compiled, "training")["root"]["inputDefinitions"]["parameters"]
    assert parameters["min_roc_auc"]["parameterType"] == "NUMBER_DOUBLE"
    assert parameters["tolerance"]["parameterType"] == "NUMBER_DOUBLE"
    assert parameters["max_iter"]["parameterType"] == "NUMBER_INTEGER"
    assert parameters["model_family"]["parameterType"] == "STRING"
    assert parameters["data_snapshot"]["parameterType"] == "STRING"
    # Retraining is this pipeline started with a trigger, a reason and an idempotency key.
    assert parameters["trigger"]["defaultValue"] == "training"
    assert {"reason", "idempotency_key"} <= set(parameters)


def test_training_dag_goes_through_validation_and_the_gate(compiled):
    tasks = _spec(compiled, "training")["root"]["dag"]["tasks"]
    assert "validate-op" in tasks["train-op"]["dependentTasks"]
    assert "register-op" in tasks["gate-op"]["dependentTasks"]
    assert "validate-op" in tasks["register-op"]["dependentTasks"]  # the report is logged with the model


@pytest.mark.parametrize("name", PIPELINES)
def test_every_task_gets_the_settings_config_map_secret_and_offline_store(compiled, name):
    from pipelines.compile import CONFIG_MAP, OFFLINE_STORE_CLAIM, SECRET_VARIABLES
    from shipyard.settings import COMPONENT_VARIABLES

    pipeline, platform = yaml.safe_load_all((compiled / f"{name}.yaml").read_text())
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(executors) == set(pipeline["deploymentSpec"]["executors"])
    for executor, config in executors.items():
        [from_map] = config["configMapAsEnv"]
        assert from_map["configMapName"] == CONFIG_MAP
        from_secrets = {e["envVar"] for m in config["secretAsEnv"] for e in m["keyToEnv"]}
        assert from_secrets == set(SECRET_VARIABLES), executor
        assert {e["envVar"] for e in from_map["keyToEnv"]} | from_secrets == COMPONENT_VARIABLES["pipeline"]
        assert [m["pvcNameParameter"]["runtimeValue"]["constant"] for m in config["pvcMount"]] == [OFFLINE_STORE_CLAIM]
