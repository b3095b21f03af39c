"""One typed settings object, read once from the environment.

Profiles:
- ``local`` (default): MLflow on SQLite, Feast with a SQLite online store, files under SHIPYARD_HOME.
- ``prod``: MLflow on PostgreSQL, Feast online store on Redis (same code and artifacts).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

Profile = Literal["local", "prod"]
PROJECT_ROOT = Path(__file__).resolve().parent.parent
FEATURE_REPO = PROJECT_ROOT / "feature_repo"


class SettingsError(ValueError):
    """A setting has a value Shipyard cannot use."""


def _default_home() -> Path:
    # In a checkout, state lives beside the code; an installed copy (a container) uses the cwd.
    if (PROJECT_ROOT / "pyproject.toml").exists():
        return PROJECT_ROOT / ".shipyard"
    return Path.cwd() / ".shipyard"


@dataclass(frozen=True)
class Settings:
    profile: Profile
    home: Path
    use_case: str
    mlflow_tracking_uri: str
    mlflow_artifact_root: str
    redis_url: str
    feast_project: str
    model_version: int | None
    prediction_log_dir: Path
    kfp_host: str | None  # KFP API server for `pipeline submit` and monitoring-triggered retraining
    prometheus_url: str
    gitops_remote: str | None  # Git remote the pipeline's promote step pushes review branches to
    # Bearer token the monitor's Alertmanager webhook requires (none set: the webhook refuses every call).
    webhook_token: str | None = field(default=None, repr=False)

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def feast_dir(self) -> Path:
        return self.home / "feast"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def pipeline_root(self) -> Path:
        return self.home / "kfp"

    @property
    def feature_store_yaml(self) -> Path:
        return FEATURE_REPO / ("feature_store.prod.yaml" if self.profile == "prod" else "feature_store.yaml")

    def ensure_dirs(self) -> None:
        for path in (self.data_dir, self.feast_dir / "data", self.prediction_log_dir, self.reports_dir,
                     self.pipeline_root, self.home / "mlflow" / "artifacts"):
            path.mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        profile = env.get("SHIPYARD_PROFILE", "local")
        if profile not in ("local", "prod"):
            raise SettingsError(f"SHIPYARD_PROFILE must be 'local' or 'prod', not {profile!r}")
        home = Path(env.get("SHIPYARD_HOME") or _default_home()).resolve()
        tracking_uri = env.get("SHIPYARD_MLFLOW_TRACKING_URI") or f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
        if profile == "prod" and tracking_uri.startswith("sqlite"):
            raise SettingsError("the prod profile needs SHIPYARD_MLFLOW_TRACKING_URI (PostgreSQL)")
        artifact_root = env.get("SHIPYARD_MLFLOW_ARTIFACT_ROOT") or (home / "mlflow" / "artifacts").as_uri()
        version = env.get("SHIPYARD_MODEL_VERSION")
        if version is not None and not version.isdigit():
            raise SettingsError(f"SHIPYARD_MODEL_VERSION must be a whole number, not {version!r}")
        return cls(
            profile=profile,
            home=home,
            use_case=env.get("SHIPYARD_USE_CASE", "fraud"),
            mlflow_tracking_uri=tracking_uri,
            mlflow_artifact_root=artifact_root,
            redis_url=env.get("SHIPYARD_REDIS_URL", "redis://127.0.0.1:6379/0"),
            feast_project=env.get("SHIPYARD_FEAST_PROJECT", "shipyard"),
            model_version=int(version) if version else None,
            prediction_log_dir=Path(env.get("SHIPYARD_PREDICTION_LOG_DIR") or home / "predictions").resolve(),
            kfp_host=env.get("SHIPYARD_KFP_HOST") or None,
            prometheus_url=env.get("SHIPYARD_PROMETHEUS_URL", "http://127.0.0.1:9090"),
            gitops_remote=env.get("SHIPYARD_GITOPS_REMOTE") or None,
            webhook_token=env.get("SHIPYARD_WEBHOOK_TOKEN") or None,
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings.from_env()
