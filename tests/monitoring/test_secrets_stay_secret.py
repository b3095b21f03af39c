"""Passwords in the connection URIs never reach the output: the masking rule, the CLI and the demo summary."""

from __future__ import annotations

import io
import secrets
import subprocess
import sys

import pytest
from rich.console import Console

from shipyard.settings import Settings
from shipyard.uris import MASK, mask_password, mask_passwords
from shipyard_cli.processes import ServerProcess, free_port, http_ok
from tests.pipelines.conftest import postgres_database  # noqa: F401  (a fixture: one database per session)


@pytest.mark.unit
@pytest.mark.parametrize(("uri", "masked"), [
    ("postgresql+psycopg2://mlflow:s3cr%40t@db:5432/mlflow", "postgresql+psycopg2://mlflow:***@db:5432/mlflow"),
    ("postgresql://mlflow:p@ss@db/mlflow", "postgresql://mlflow:***@db/mlflow"),  # an unencoded @ in it
    ("redis://:s3cret@redis:6379/0", "redis://:***@redis:6379/0"),
    ("rediss://default:s3cret@redis:6380/0", "rediss://default:***@redis:6380/0"),
    ("https://git:ghp_token@github.com/org/repo.git", "https://git:***@github.com/org/repo.git"),
    ("postgresql://db/mlflow?user=m&password=s3cret", "postgresql://db/mlflow?user=m&password=***"),
    ("sqlite:////var/lib/mlflow.db", "sqlite:////var/lib/mlflow.db"),  # nothing secret: unchanged
    ("http://mlflow:5000", "http://mlflow:5000"),
    ("postgresql://mlflow@db/mlflow", "postgresql://mlflow@db/mlflow"),  # a user name alone is not secret
])
def test_mask_password(uri, masked):
    assert mask_password(uri) == masked


@pytest.mark.unit
def test_mask_passwords_in_free_text():
    text = "could not reach postgresql://m:s3cret@db/mlflow or redis://:other@r:6379/0, retrying"
    assert mask_passwords(text) == "could not reach postgresql://m:***@db/mlflow or redis://:***@r:6379/0, retrying"


@pytest.fixture
def prod_env(tmp_path, request) -> tuple[dict[str, str], str]:
    """The prod profile with a password in both URIs (PostgreSQL trusts local connections, so any
    password connects; a test that needs the database asks for ``postgres_database``)."""
    password = f"pw-{secrets.token_hex(8)}"
    database = (request.getfixturevalue("postgres_database") if "postgres_database" in request.fixturenames
                else "postgresql+psycopg2://postgres@127.0.0.1:5432/unused")
    return {"SHIPYARD_PROFILE": "prod", "SHIPYARD_HOME": str(tmp_path / "home"),
            # The prod profile talks to the MLflow server (basic auth in its URL) and keeps Feast's
            # registry in PostgreSQL: both URIs carry the password.
            "SHIPYARD_MLFLOW_TRACKING_URI": f"http://shipyard:{password}@127.0.0.1:9/",
            "SHIPYARD_FEAST_REGISTRY_URI": database.replace("postgres@", f"postgres:{password}@", 1),
            "SHIPYARD_REDIS_URL": f"redis://:{password}@127.0.0.1:6379/15",
            "SHIPYARD_WEBHOOK_TOKEN": f"token-{password}"}, password


def shipyard(args: list[str], env: dict[str, str]) -> str:
    import os

    result = subprocess.run([sys.executable, "-m", "shipyard_cli.main", *args], env={**os.environ, **env},
                            capture_output=True, text=True, timeout=180)
    return result.stdout + result.stderr


@pytest.mark.integration
@pytest.mark.slow  # half a minute of CLI runs: `make test-slow`
def test_cli_output_in_the_prod_profile_never_shows_the_password(prod_env, postgres_database,  # noqa: F811
                                                                   tmp_path):
    from shipyard_cli.processes import start_mlflow_server

    env, password = prod_env
    mlflow_port = free_port()  # a real tracking server (the prod profile's), its URL carrying the password
    mlflow = start_mlflow_server(mlflow_port, postgres_database, tmp_path / "mlflow.log")
    env = {**env, "SHIPYARD_MLFLOW_TRACKING_URI": f"http://shipyard:{password}@127.0.0.1:{mlflow_port}/"}
    try:
        _check_outputs(env, password, tmp_path)
    finally:
        mlflow.stop()


def _check_outputs(env: dict[str, str], password: str, tmp_path) -> None:
    outputs = {
        "monitor drift": shipyard(["monitor", "drift"], env),
        "pipeline submit": shipyard(["pipeline", "submit", "training", "--host",
                                     f"http://kfp:{password}@127.0.0.1:{free_port()}",
                                     "--package-dir", str(tmp_path / "build")], env),
    }
    port = free_port()
    monitor = ServerProcess(["monitor", "serve", "--host", "127.0.0.1", "--port", str(port), "--interval", "3600"],
                            tmp_path / "monitor.log", env)
    monitor.start_until(http_ok(f"http://127.0.0.1:{port}/-/healthy"), timeout=90)
    monitor.stop()
    outputs["monitor serve"] = monitor.log_path.read_text()
    # The monitor's log names the services it uses: the URIs are there, masked.
    assert f":{MASK}@127.0.0.1:" in outputs["monitor serve"]
    for command, output in outputs.items():
        assert output.strip(), f"`shipyard {command}` printed nothing"
        assert password not in output, f"`shipyard {command}` printed the password:\n{output}"


@pytest.mark.unit
def test_demo_summary_in_the_prod_profile_never_shows_the_password(prod_env, tmp_path):
    from shipyard.usecase import load_use_case
    from shipyard_cli.demo import new_run
    from shipyard_cli.summary import print_summary

    env, password = prod_env
    settings = Settings.from_env(env)
    run = new_run(settings, load_use_case(settings.use_case))  # the record the demo prints from
    out = io.StringIO()
    print_summary(Console(file=out, width=80), run)
    text = out.getvalue()
    assert "mlflow ui --backend-store-uri" in text
    assert password not in text.replace("\n", "").replace("│", "").replace(" ", "")
