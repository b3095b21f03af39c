"""`shipyard canary verdict` on real signals: a real Prometheus scraping two real predictor processes.

The stable predictor serves the champion; the canary serves a second version (the same trained model
registered again), each over its own copy of the online store. First both are healthy and the verdict
promotes the canary (traffic to 100%, by commit). Then the canary's online store loses its feature
table (a real fault, as after a store teardown): the canary answers 503s, Prometheus counts them, and
the verdict rolls the canary back by commit.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from shipyard import gitops
from shipyard.settings import Settings
from shipyard_cli.main import app
from shipyard_cli.processes import ServerProcess, free_port, http_ok
from tests.gitops.conftest import MODEL, git
from tests.monitoring.tools import require_tool
from tests.serving.platforms import copy_platform

# Three servers and, run alone, the session's training: more than the suite's default per-test budget.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500), pytest.mark.slow]

REQUEST = {"instances": [{"customer_id": 17, "amount": 42.5, "merchant_category": "grocery", "hour": 13}]}
MIN_REQUESTS = 60  # canary requests the verdict needs (the CLI's --min-requests)
WINDOW = "5m"  # longer than the test: every request sent is inside the verdict's window
# An upper bound to catch a predictor that never gets ready, not a timing: start-up loads the model,
# converts it to ONNX and checks it on reference rows, two at once on a shared 2-core machine.
PREDICTOR_START_SECONDS = 300


def registry_copy(trained: Settings, home: Path) -> tuple[str, int, int]:
    """A copy of the session's registry with the champion registered again as a second version.

    Returns the copy's tracking URI and the (stable, canary) versions. The copy's artifacts stay
    where the session put them; nothing here writes there.
    """
    from shipyard import registry

    db = home / "registry" / "mlflow.db"
    db.parent.mkdir(parents=True)
    shutil.copyfile(trained.mlflow_tracking_uri.removeprefix("sqlite:///"), db)
    settings = Settings.from_env({"SHIPYARD_HOME": str(home), "SHIPYARD_MLFLOW_TRACKING_URI": f"sqlite:///{db}"})
    client = registry.client(settings)
    stable = registry.alias_version(settings, MODEL, registry.CHAMPION)
    source = client.get_model_version(MODEL, str(stable))
    canary = int(client.create_model_version(MODEL, source.source, source.run_id).version)
    return settings.mlflow_tracking_uri, stable, canary


def start_prometheus(binary: str, workdir: Path, targets: list[str]) -> tuple[ServerProcess, str]:
    """Prometheus scraping ``targets`` every second as the shipyard-predictor job, on a free port."""
    port = free_port()
    config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
              "scrape_configs": [{"job_name": "shipyard-predictor", "static_configs": [{"targets": targets}]}]}
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    args = [f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}"]
    url = f"http://127.0.0.1:{port}"
    server = ServerProcess(args, workdir / "prometheus.log", program=[binary])
    return server.start_until(http_ok(f"{url}/-/ready"), timeout=60), url


def send(url: str, count: int) -> list[int]:
    with httpx.Client(timeout=10) as session:
        return [session.post(f"{url}/v1/models/{MODEL}:predict", json=REQUEST).status_code for _ in range(count)]


def scraped(prometheus: str, version: int, code: str, at_least: int, timeout: float = 60) -> None:
    """Wait until Prometheus holds ``at_least`` requests of ``version`` answered with ``code``."""
    query = f'sum(shipyard_requests_total{{model="{MODEL}",version="{version}",code="{code}"}})'
    deadline = time.monotonic() + timeout
    while (value := gitops.query_prometheus(prometheus, query)) != value or value < at_least:
        assert time.monotonic() < deadline, f"Prometheus has {value} for {query}, expected >= {at_least}"
        time.sleep(0.5)


@dataclass
class CanaryStack:
    prometheus: str
    stable_url: str
    canary_url: str
    stable: int
    canary: int
    canary_home: Path


@pytest.fixture()
def canary_stack(trained_home: Settings, tmp_path: Path) -> Iterator[CanaryStack]:
    prometheus_binary = require_tool("prometheus")  # in CI (any true CI value) a missing tool fails
    tracking_uri, stable, canary = registry_copy(trained_home, tmp_path / "registry-home")
    started: list[ServerProcess] = []  # stopped in reverse order
    try:
        urls = {}
        for name, version in (("stable", stable), ("canary", canary)):
            platform = copy_platform(trained_home, tmp_path / name)
            platform.env.update(SHIPYARD_MLFLOW_TRACKING_URI=tracking_uri, SHIPYARD_MODEL_VERSION=str(version))
            port = free_port()
            started.append(ServerProcess(["serve", "--port", str(port)], tmp_path / name / "serve.log",
                                         platform.env).start())  # both start at once, then both must be ready
            urls[name] = f"http://127.0.0.1:{port}"
        for server, url in zip(started, urls.values(), strict=True):
            server.wait_until(http_ok(f"{url}/v1/models/{MODEL}"), timeout=PREDICTOR_START_SECONDS)
        targets = [url.removeprefix("http://") for url in urls.values()]
        prometheus, prometheus_url = start_prometheus(prometheus_binary, tmp_path / "prometheus", targets)
        started.append(prometheus)
        yield CanaryStack(prometheus_url, urls["stable"], urls["canary"], stable, canary, tmp_path / "canary")
    finally:
        for server in reversed(started):
            server.stop()


def drop_feature_tables(home: Path) -> list[str]:
    """Drop the feature view tables from a predictor's SQLite online store (the predictor keeps running)."""
    with sqlite3.connect(home / "feast" / "online_store.db") as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                  if "customer_spend_stats" in name]
        for name in tables:
            db.execute(f'DROP TABLE "{name}"')
    return tables


def verdict(stack: CanaryStack, checkout: Path, branch: str):
    return CliRunner().invoke(app, ["canary", "verdict", "--env", "prod", "--prometheus-url", stack.prometheus,
                                    "--window", WINDOW, "--min-requests", str(MIN_REQUESTS), "--branch", branch,
                                    "--repo", str(checkout)])


def test_healthy_canary_is_promoted_and_an_erroring_canary_rolled_back(canary_stack, checkout, monkeypatch):
    stack = canary_stack
    monkeypatch.setenv("SHIPYARD_USE_CASE", "fraud")
    # prod's history on main: stable, then the canary (armed at the overlay's canary percent)
    for version in (stack.stable, stack.canary):
        gitops.promote(checkout, "prod", version, model=MODEL, branch="rollout")
    git(checkout, "merge", "-q", "--ff-only", "rollout")
    assert gitops.canary_versions(checkout, "prod") == (stack.stable, stack.canary)
    armed = gitops.read_canary_percent(checkout, "prod")[0]

    # Counters must be scraped at zero before traffic, or increase() over the window misses what came first.
    for version in (stack.stable, stack.canary):
        scraped(stack.prometheus, version, "200", 0)
    # Healthy: both answer 200, the canary is rolled out to 100% in one commit.
    assert set(send(stack.stable_url, MIN_REQUESTS)) == {200}
    assert set(send(stack.canary_url, MIN_REQUESTS)) == {200}
    scraped(stack.prometheus, stack.stable, "200", MIN_REQUESTS)
    scraped(stack.prometheus, stack.canary, "200", MIN_REQUESTS)
    healthy = verdict(stack, checkout, "canary-healthy")
    assert healthy.exit_code == 0, healthy.output
    assert "verdict: promote" in healthy.output
    assert git(checkout, "diff", "--numstat", "main", "canary-healthy").split() == [
        "1", "1", "manifests/overlays/prod/canary.yaml"]
    rolled_out = git(checkout, "show", "canary-healthy:manifests/overlays/prod/canary.yaml")
    assert "canaryTrafficPercent: 100" in rolled_out and f"canaryTrafficPercent: {armed}\n" not in rolled_out

    # A real fault: the canary's online store loses its table, the canary answers 503, the verdict rolls it back.
    assert drop_feature_tables(stack.canary_home)
    codes = send(stack.canary_url, 5)
    scraped(stack.prometheus, stack.canary, "503", 1)  # the 503 series exists from its first answer only
    codes += send(stack.canary_url, MIN_REQUESTS)
    assert codes.count(503) == len(codes), codes
    assert set(send(stack.stable_url, MIN_REQUESTS)) == {200}
    scraped(stack.prometheus, stack.canary, "503", len(codes))
    failing = verdict(stack, checkout, "canary-failing")
    assert failing.exit_code == 0, failing.output
    assert "verdict: rollback" in failing.output and "error rate" in failing.output
    assert git(checkout, "diff", "--numstat", "main", "canary-failing").split() == [
        "1", "1", "manifests/overlays/prod/model-version.yaml"]
    assert gitops.version_history(checkout, "prod", "canary-failing")[-1] == stack.stable
    message = git(checkout, "log", "-1", "--format=%B", "canary-failing")
    assert "Shipyard-Action: rollback" in message and "canary verdict: error rate" in message
    assert git(checkout, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
