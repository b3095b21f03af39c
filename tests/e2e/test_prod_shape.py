"""The loop in the production shape, as `make demo-prod` runs it: every component a separate process
with its own empty home (deleted between steps), only services shared: a PostgreSQL database of its
own (MLflow backend, Feast SQL registry), a Redis database index of its own, the MLflow server with
proxied artifacts, the offline store and the prediction log. Pipelines run from their compiled YAML
with the manifests' environment; two predictors serve at once; drift, alert and retraining follow."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import fail_in_ci_else_skip

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(3600), pytest.mark.slow]


def test_prod_shape_runs_the_whole_loop_with_empty_homes(tmp_path):
    if shutil.which("prometheus") is None:
        fail_in_ci_else_skip("prometheus is not installed (make prometheus-tools)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    workdir = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "shipyard_cli.main", "demo-prod", "--rows", "6000",
                             "--traffic", "400", "--workdir", str(workdir)],
                            env=env, capture_output=True, text=True, timeout=3500)
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-4000:]

    assert re.search(r"training: registered fraud version 1 \(champion\)", out), out
    assert re.search(r"materialized customer_spend_stats .* in [1-9]\d* chunks", out), out
    assert "freshness: shipyard_feature_freshness_seconds" in out
    # Both predictors answered, at the same time, every request; each answered one is logged.
    answered = re.search(r"traffic: (\d+)/(\d+) answered \(predictor 1: (\d+), predictor 2: (\d+)\)", out)
    assert answered and answered[1] == answered[2] == "800" and int(answered[3]) > 0 and int(answered[4]) > 0
    assert re.search(r"prediction log rows: 8\d\d\b", out), out  # 800 replayed + the readiness probes' few
    # Each of these homes was deleted right after its step, and the loop went on.
    assert "homes deleted between steps: ingest, feast-apply, materializer, trainer" in out
    for home in ("ingest", "feast-apply", "materializer", "trainer"):
        assert not (workdir / "homes" / home).exists()
    # The long-running components kept a home each, of their own.
    assert {p.name for p in (workdir / "homes").iterdir()} == {"predictor-1", "predictor-2", "drift-monitor"}
    # Two processes wrote the shared log, each its own files (file names start with host and process id).
    writers = {p.name.rsplit("-", 1)[0] for p in (workdir / "prediction-log").rglob("*.parquet")}
    assert len(writers) == 2, writers
    # Artifacts live on the MLflow server's side only.
    assert int(re.search(r"artifact files on the MLflow server: (\d+)", out)[1]) > 0
    assert re.search(r"drift alert: Shipyard\w+", out), out
    assert re.search(r"retraining: finished: registered fraud version 2", out), out
