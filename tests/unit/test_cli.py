"""The CLI: readable one-line errors, compile output that KFP loads back (promotion: tests/gitops/)."""

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from shipyard_cli.main import app

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_unknown_scenario_is_one_line_and_exit_1(shipyard_home):
    result = run("data", "generate", "--rows", "10", "--scenario", "meteor")
    assert result.exit_code == 1
    assert result.output.strip().startswith("error: unknown drift scenario 'meteor'")
    assert "Traceback" not in result.output


def test_training_without_data_says_what_to_run(shipyard_home):
    result = run("pipeline", "run", "training")
    assert result.exit_code == 1
    assert "shipyard data generate" in result.output and "Traceback" not in result.output


def test_unknown_pipeline_is_refused(shipyard_home):
    result = run("pipeline", "run", "nightly")
    assert result.exit_code == 1 and "unknown pipeline 'nightly'" in result.output


def test_data_generate_writes_baseline_and_feature_table(shipyard_home):
    result = run("data", "generate", "--rows", "500", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert (shipyard_home.offline_store_path / "data" / "transactions.parquet").exists()
    assert list((shipyard_home.offline_store_path / "customer_spend_stats").glob("date=*/*.parquet"))


def test_compiled_pipeline_loads_back_with_kfp(tmp_path):
    from google.protobuf import json_format
    from kfp import components
    from kfp.pipeline_spec import pipeline_spec_pb2

    result = run("pipeline", "compile", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    spec = next(yaml.safe_load_all((tmp_path / "training.yaml").read_text()))  # then: the platform config
    parsed = json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())  # strict: unknown fields fail
    assert parsed.pipeline_info.name == "shipyard-training"
    executors = spec["deploymentSpec"]["executors"]
    assert {e["container"]["image"] for e in executors.values()} == {"ghcr.io/shipyard-mlops/shipyard:0.1.0"}
    loaded = components.load_component_from_file(str(tmp_path / "training.yaml"))
    assert {"as_of", "training_days", "min_roc_auc", "model_family"} <= set(loaded.component_spec.inputs)


