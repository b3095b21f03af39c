"""Shared fixtures: every test gets its own SHIPYARD_HOME; one small trained platform per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from shipyard.settings import Settings, get_settings
from tests.platform_setup import prepare_platform

NOT_CI = frozenset({"", "0", "false", "no", "off"})


def running_in_ci() -> bool:
    """CI is set to anything but a false value, in any case (`CI=true`, `CI=True`, `CI=1`)."""
    return os.environ.get("CI", "").strip().lower() not in NOT_CI


def fail_in_ci_else_skip(reason: str) -> None:
    """A missing service or tool: under CI the test fails (it must never pass by skipping there)."""
    if running_in_ci():
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


# Variables a platform home of a test must not inherit from the calling shell (another profile, a
# pinned version, a shared prediction log, another Feast project or store).
FOREIGN = ("SHIPYARD_PROFILE", "SHIPYARD_MLFLOW_TRACKING_URI", "SHIPYARD_MODEL_VERSION", "SHIPYARD_PREDICTION_LOG_DIR",
           "SHIPYARD_MLFLOW_ARTIFACT_ROOT", "SHIPYARD_FEAST_PROJECT", "SHIPYARD_REDIS_URL",
           "SHIPYARD_FEAST_REGISTRY_URI")


@contextmanager
def home_environment(home: Path, use_case: str | None = None) -> Iterator[Settings]:
    """The process environment names ``home`` (and ``use_case``) while the block runs: pipeline steps
    and servers started inside read it. The caller's environment is restored afterwards."""
    saved = dict(os.environ)
    for name in FOREIGN:
        os.environ.pop(name, None)
    os.environ.update(SHIPYARD_HOME=str(home), MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false")
    if use_case is not None:
        os.environ["SHIPYARD_USE_CASE"] = use_case
    get_settings.cache_clear()
    try:
        yield Settings.from_env()
    finally:
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_settings_cache() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def shipyard_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A fresh, empty SHIPYARD_HOME for one test."""
    monkeypatch.setenv("SHIPYARD_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in ("SHIPYARD_PROFILE", "SHIPYARD_MLFLOW_TRACKING_URI", "SHIPYARD_MODEL_VERSION",
                 "SHIPYARD_PREDICTION_LOG_DIR", "SHIPYARD_MLFLOW_ARTIFACT_ROOT"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env()
    settings.ensure_dirs()
    return settings


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A platform trained once per session: features applied and materialized, a champion registered.

    Tests that use it only read from it (or write under their own prediction log directory).
    """
    from pipelines.runs import run_training

    home = tmp_path_factory.mktemp("trained") / "home"
    with home_environment(home) as settings:
        prepare_platform(settings)
        outcome = run_training(settings, min_roc_auc=0.7, max_iter=100)
        assert outcome.promoted, outcome.describe()
        yield settings


@pytest.fixture
def use_trained_home(trained_home: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    """The session's trained platform, with this test's own prediction log."""
    monkeypatch.setenv("SHIPYARD_HOME", str(trained_home.home))
    monkeypatch.setenv("SHIPYARD_PREDICTION_LOG_DIR", str(tmp_path / "predictions"))
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return Settings.from_env()


@pytest.fixture(scope="session")
def trained_delivery_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A regression platform trained once per session by the real pipeline: the delivery use case's
    orders generated, Feast applied and materialized, a champion registered.

    The environment names the delivery home only while it is prepared and trained (the pipeline's
    steps read it); tests reach it through the returned settings, or through the environment of the
    servers they start (tests/serving/platforms.py).
    """
    from pipelines.runs import run_training

    home = tmp_path_factory.mktemp("trained-delivery") / "home"
    with home_environment(home, "delivery") as settings:
        prepare_platform(settings)
        # The training window starts once delivery's 7-day kitchen statistics have a full week behind
        # them (the generated history's first week has lower orders_7d than any later week's).
        outcome = run_training(settings, max_iter=100, training_days=17)
        assert outcome.promoted, outcome.describe()
    yield settings
