"""A pipeline step that fails says which step, why, and what to run next, in one line (kfp.local's own
message is in colour and names only the task; the cause is in the component log)."""

import os
import subprocess
import sys
from pathlib import Path

from pipelines.local import step_failure

KFP_MESSAGE = ("Pipeline \x1b[95m'shipyard-training'\x1b[0m finished with status \x1b[91mFAILURE\x1b[0m. "
               "Inner task failed: \x1b[96m'build-training-set-op'\x1b[0m.")


def test_step_failure_names_the_step_the_cause_and_the_next_command(tmp_path):
    log = tmp_path / "training-pipeline.log"
    log.write_text("Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\n"
                   "    feast.errors.FeatureServiceNotFoundException: Feature service fraud_model_v1 does not "
                   "exist in project shipyard\n"
                   "20:03:53.253 - ERROR - Task \x1b[96m'build-training-set-op'\x1b[0m finished with status FAILURE\n")
    line = step_failure(RuntimeError(KFP_MESSAGE), log)
    assert line == ("step build-training-set-op failed: FeatureServiceNotFoundException: Feature service "
                    "fraud_model_v1 does not exist in project shipyard; run `shipyard features apply` first "
                    f"(component logs: {log})")


def test_step_failure_without_a_cause_in_the_log_keeps_kfps_words_without_colour(tmp_path):
    line = step_failure(RuntimeError(KFP_MESSAGE), tmp_path / "missing.log")
    assert "\x1b[" not in line and "Inner task failed: 'build-training-set-op'" in line


def test_training_before_features_apply_is_one_line_naming_the_step_and_the_next_command(tmp_path):
    """The real command, piped: data generated, `features apply` forgotten."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env["SHIPYARD_HOME"] = str(tmp_path / "home")

    def shipyard(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "shipyard_cli.main", *args], env=env, capture_output=True,
                              text=True, timeout=600)

    assert shipyard("data", "generate", "--rows", "2000").returncode == 0
    result = shipyard("pipeline", "run", "training")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "\x1b[" not in result.stderr + result.stdout and "Traceback" not in result.stderr
    assert lines[0].startswith("error: training pipeline failed: step build-training-set-op failed: "
                               "FeatureServiceNotFoundException"), lines[0]
    assert "run `shipyard features apply` first" in lines[0]
    assert Path(lines[0].rsplit("(component logs: ", 1)[1].rstrip(")")).exists()
