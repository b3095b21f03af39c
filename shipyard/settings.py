"""One typed settings object, built from environment variables and checked at start-up.

Profiles:
- ``local`` (default): MLflow on SQLite, Feast with a SQLite online store and a file registry,
  everything under SHIPYARD_HOME.
- ``prod``: the only state two components share is a service: the MLflow tracking server (HTTP,
  proxied artifacts), PostgreSQL (Feast's SQL registry), Redis (online store), the offline store
  and the prediction log (URIs). SHIPYARD_HOME is then a private scratch folder: deleting it
  between two runs of a component changes nothing.

Each component reads exactly the variables listed for it in ``COMPONENT_VARIABLES`` (``from_env``
with ``component=`` reads no other); the rendered manifests set exactly those variables for its
workload, which tests/manifests/test_environment_contract.py checks in both directions.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

Profile = Literal["local", "prod"]
PROJECT_ROOT = Path(__file__).resolve().parent.parent
FEATURE_REPO = PROJECT_ROOT / "feature_repo"

# Variables shared by every component.
_COMMON = ("SHIPYARD_PROFILE", "SHIPYARD_HOME", "SHIPYARD_USE_CASE")
# What a pipeline step needs: the registry (MLflow), the feature store (registry, offline, online).
_PIPELINE = (*_COMMON, "SHIPYARD_MLFLOW_TRACKING_URI", "SHIPYARD_REDIS_URL", "SHIPYARD_FEAST_PROJECT",
             "SHIPYARD_FEAST_REGISTRY_URI", "SHIPYARD_OFFLINE_STORE_URI",
             "SHIPYARD_GITOPS_REMOTE")  # the promote step after the gate pushes there
COMPONENT_VARIABLES: dict[str, frozenset[str]] = {
    # `shipyard serve`: model from MLflow, features from Redis (keys and TTLs from the Feast registry).
    "predictor": frozenset({*_COMMON, "SHIPYARD_MLFLOW_TRACKING_URI", "SHIPYARD_REDIS_URL",
                            "SHIPYARD_FEAST_PROJECT", "SHIPYARD_FEAST_REGISTRY_URI", "SHIPYARD_MODEL_VERSION",
                            "SHIPYARD_PREDICTION_LOG_DIR"}),
    # `shipyard monitor serve`: the drift job and the Alertmanager webhook. Without a KFP host the
    # webhook runs the retraining pipeline itself, so it reads what a pipeline step reads.
    "drift-monitor": frozenset({*_PIPELINE, "SHIPYARD_MODEL_VERSION", "SHIPYARD_PREDICTION_LOG_DIR",
                                "SHIPYARD_KFP_HOST", "SHIPYARD_RETENTION_DAYS", "SHIPYARD_WEBHOOK_TOKEN"}),
    # `shipyard features materialize`: offline store -> Redis, freshness pushed to Prometheus.
    "materializer": frozenset({*_COMMON, "SHIPYARD_REDIS_URL", "SHIPYARD_FEAST_PROJECT",
                               "SHIPYARD_FEAST_REGISTRY_URI", "SHIPYARD_OFFLINE_STORE_URI",
                               "SHIPYARD_PUSHGATEWAY_URL"}),
    # Every task of every compiled pipeline (injected with kfp-kubernetes by pipelines/compile.py).
    "pipeline": frozenset(_PIPELINE),
}

# Every variable Settings knows, whichever component reads it.
ALL_VARIABLES = frozenset().union(*COMPONENT_VARIABLES.values(), {"SHIPYARD_PROMETHEUS_URL", "SHIPYARD_GITOPS_REMOTE"})

_DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


class SettingsError(ValueError):
    """A setting has a value Shipyard cannot use; the message names the variable."""


def _default_home() -> Path:
    # In a checkout, state lives beside the code; an installed copy (a container) uses the cwd.
    if (PROJECT_ROOT / "pyproject.toml").exists():
        return PROJECT_ROOT / ".shipyard"
    return Path.cwd() / ".shipyard"


def check_redis_url(url: str, variable: str = "SHIPYARD_REDIS_URL") -> str:
    """``url`` if it is a usable redis:// or rediss:// URL, else a SettingsError naming ``variable``."""
    parsed = urlparse(url)
    if parsed.scheme not in ("redis", "rediss") or not parsed.hostname:
        raise SettingsError(f"{variable} must be a redis://HOST:PORT/DB URL, not {url!r}")
    try:
        parsed.port  # noqa: B018 - urllib validates the port lazily, on access
    except ValueError:
        raise SettingsError(f"{variable} has a port that is not a number: {url!r}") from None
    db = parsed.path.lstrip("/")
    if db and not db.isdigit():
        raise SettingsError(f"{variable} must end in a database number (/0, /1, ...), not {url!r}")
    return url


def _local_path(uri: str, variable: str) -> Path:
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return Path(parsed.path if parsed.scheme else uri).resolve()
    raise SettingsError(f"{variable} must be a local folder or file:// URI on this platform, not {uri!r}")


@dataclass(frozen=True)
class Settings:
    profile: Profile
    home: Path  # this process's own scratch and (local profile) state folder
    use_case: str
    mlflow_tracking_uri: str
    mlflow_artifact_root: str | None  # local profile only; the prod server proxies artifacts itself
    redis_url: str
    feast_project: str
    feast_registry_uri: str  # a file path (local) or a PostgreSQL URL (prod: Feast's SQL registry)
    offline_store_uri: str  # the append-only, time-partitioned Parquet tables (DuckDB offline store)
    model_version: int | None
    prediction_log_dir: Path
    kfp_host: str | None  # KFP API server for `pipeline submit` and monitoring-triggered retraining
    prometheus_url: str
    gitops_remote: str | None  # Git remote the pipeline's promote step pushes review branches to
    pushgateway_url: str | None  # where the materialization job pushes its freshness metrics
    component: str | None = None  # whose variables were read (None: all of them)
    retention_days: int = 30  # prediction logs and drift reports older than this are deleted by the monitor
    # Bearer token the monitor's Alertmanager webhook requires (none set: the webhook refuses every call).
    webhook_token: str | None = field(default=None, repr=False)

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def feast_dir(self) -> Path:
        return self.home / "feast"

    @property
    def offline_store_path(self) -> Path:
        """The offline store as a folder of this machine (Feast resolves relative sources under it)."""
        return _local_path(self.offline_store_uri, "SHIPYARD_OFFLINE_STORE_URI")

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
        for path in (self.data_dir, self.feast_dir, self.prediction_log_dir, self.reports_dir, self.pipeline_root):
            path.mkdir(parents=True, exist_ok=True)
        if self.mlflow_artifact_root and self.mlflow_artifact_root.startswith("file:"):
            Path(urlparse(self.mlflow_artifact_root).path).mkdir(parents=True, exist_ok=True)

    def environment(self, component: str) -> dict[str, str]:
        """The variables ``component`` reads, with this object's values: what its manifest sets."""
        values = {
            "SHIPYARD_PROFILE": self.profile, "SHIPYARD_HOME": str(self.home), "SHIPYARD_USE_CASE": self.use_case,
            "SHIPYARD_MLFLOW_TRACKING_URI": self.mlflow_tracking_uri, "SHIPYARD_REDIS_URL": self.redis_url,
            "SHIPYARD_FEAST_PROJECT": self.feast_project, "SHIPYARD_FEAST_REGISTRY_URI": self.feast_registry_uri,
            "SHIPYARD_OFFLINE_STORE_URI": self.offline_store_uri,
            "SHIPYARD_MODEL_VERSION": "" if self.model_version is None else str(self.model_version),
            "SHIPYARD_PREDICTION_LOG_DIR": str(self.prediction_log_dir), "SHIPYARD_KFP_HOST": self.kfp_host or "",
            "SHIPYARD_PUSHGATEWAY_URL": self.pushgateway_url or "",
            "SHIPYARD_GITOPS_REMOTE": self.gitops_remote or "", "SHIPYARD_RETENTION_DAYS": str(self.retention_days),
            "SHIPYARD_WEBHOOK_TOKEN": self.webhook_token or "",
        }
        return {name: values[name] for name in sorted(variables_of(component))}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, component: str | None = None) -> Settings:
        """Settings from ``env`` (default: the process environment).

        With ``component``, only that component's variables are read; the others keep their
        defaults. Raises SettingsError with one line naming the variable and what is wrong.
        """
        env = os.environ if env is None else env
        wanted = variables_of(component) if component else None

        def get(name: str, default: str | None = None) -> str | None:
            if wanted is not None and name not in wanted:
                return default
            return env.get(name) or default

        profile = get("SHIPYARD_PROFILE", "local")
        if profile not in ("local", "prod"):
            raise SettingsError(f"SHIPYARD_PROFILE must be 'local' or 'prod', not {profile!r}")
        prod = profile == "prod"
        home = Path(get("SHIPYARD_HOME") or _default_home()).resolve()
        tracking_uri = get("SHIPYARD_MLFLOW_TRACKING_URI")
        if tracking_uri is None:
            if prod and (wanted is None or "SHIPYARD_MLFLOW_TRACKING_URI" in wanted):
                raise SettingsError("SHIPYARD_MLFLOW_TRACKING_URI is not set: the prod profile needs the MLflow "
                                    "tracking server's http(s):// URL")
            tracking_uri = f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
        elif prod and urlparse(tracking_uri).scheme not in ("http", "https"):
            raise SettingsError(f"SHIPYARD_MLFLOW_TRACKING_URI must be the MLflow server's http(s):// URL in the "
                                f"prod profile (artifacts are proxied by the server), not {tracking_uri!r}")
        artifact_root = None if prod else (home / "mlflow" / "artifacts").as_uri()
        registry_uri = get("SHIPYARD_FEAST_REGISTRY_URI")
        if registry_uri is None:
            if prod and (wanted is None or "SHIPYARD_FEAST_REGISTRY_URI" in wanted):
                raise SettingsError("SHIPYARD_FEAST_REGISTRY_URI is not set: the prod profile keeps Feast's "
                                    "registry in PostgreSQL (postgresql+psycopg2://USER@HOST/DB)")
            registry_uri = str(home / "feast" / "registry.db")
        elif prod and not registry_uri.startswith("postgresql"):
            raise SettingsError(f"SHIPYARD_FEAST_REGISTRY_URI must be a postgresql:// URL in the prod profile, "
                                f"not {registry_uri!r}")
        if registry_uri.startswith("postgresql://"):  # the project ships psycopg2; Feast would pick psycopg 3
            registry_uri = "postgresql+psycopg2://" + registry_uri[len("postgresql://"):]
        retention = get("SHIPYARD_RETENTION_DAYS") or "30"
        if not retention.isdigit() or int(retention) < 1:
            raise SettingsError(f"SHIPYARD_RETENTION_DAYS must be a whole number of days >= 1, not {retention!r}")
        version = get("SHIPYARD_MODEL_VERSION")
        if version is not None and not version.isdigit():
            raise SettingsError(f"SHIPYARD_MODEL_VERSION must be a whole number, not {version!r}")
        offline = get("SHIPYARD_OFFLINE_STORE_URI") or str(home / "offline")
        _local_path(offline, "SHIPYARD_OFFLINE_STORE_URI")
        log_dir = get("SHIPYARD_PREDICTION_LOG_DIR") or str(home / "predictions")
        return cls(
            profile=profile,
            home=home,
            use_case=get("SHIPYARD_USE_CASE", "fraud"),
            mlflow_tracking_uri=tracking_uri,
            mlflow_artifact_root=artifact_root,
            redis_url=check_redis_url(get("SHIPYARD_REDIS_URL", _DEFAULT_REDIS)),
            feast_project=get("SHIPYARD_FEAST_PROJECT", "shipyard"),
            feast_registry_uri=registry_uri,
            offline_store_uri=offline,
            model_version=int(version) if version else None,
            prediction_log_dir=_local_path(log_dir, "SHIPYARD_PREDICTION_LOG_DIR"),
            kfp_host=get("SHIPYARD_KFP_HOST"),
            prometheus_url=get("SHIPYARD_PROMETHEUS_URL", "http://127.0.0.1:9090"),
            gitops_remote=get("SHIPYARD_GITOPS_REMOTE"),
            pushgateway_url=get("SHIPYARD_PUSHGATEWAY_URL"),
            component=component,
            retention_days=int(retention),
            webhook_token=get("SHIPYARD_WEBHOOK_TOKEN"),
        )


def variables_of(component: str) -> frozenset[str]:
    if component not in COMPONENT_VARIABLES:
        raise SettingsError(f"unknown component {component!r}; known: {', '.join(sorted(COMPONENT_VARIABLES))}")
    return COMPONENT_VARIABLES[component]


def check_reachable(settings: Settings, timeout: float = 5.0) -> None:
    """Fail at start-up, with one line, when a service the settings name does not answer.

    Checks the services a component would otherwise first touch on its first request or step, among
    those its variables name: Feast's SQL registry (PostgreSQL), the online store (Redis, prod profile)
    and the MLflow tracking server (HTTP).
    """
    names = variables_of(settings.component) if settings.component else ALL_VARIABLES
    if "SHIPYARD_FEAST_REGISTRY_URI" in names and settings.feast_registry_uri.startswith("postgresql"):
        _check_postgresql(settings.feast_registry_uri, timeout)
    if "SHIPYARD_REDIS_URL" in names and settings.profile == "prod":
        _check_redis(settings.redis_url, timeout)
    if "SHIPYARD_MLFLOW_TRACKING_URI" in names and settings.mlflow_tracking_uri.startswith("http"):
        _check_mlflow(settings.mlflow_tracking_uri, timeout)


def _check_postgresql(url: str, timeout: float) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url, connect_args={"connect_timeout": max(1, int(timeout))})
    try:
        with engine.connect():
            pass
    except sqlalchemy.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise SettingsError(f"SHIPYARD_FEAST_REGISTRY_URI: PostgreSQL is not reachable at "
                            f"{engine.url.render_as_string(hide_password=True)}: {reason}") from None
    finally:
        engine.dispose()


def _check_redis(url: str, timeout: float) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout).ping()
    except redis.RedisError as exc:
        raise SettingsError(f"SHIPYARD_REDIS_URL: Redis is not reachable at {url}: {exc}") from None


def _check_mlflow(url: str, timeout: float) -> None:
    import httpx

    try:
        response = httpx.get(url.rstrip("/") + "/health", timeout=timeout)
    except httpx.HTTPError as exc:
        raise SettingsError(f"SHIPYARD_MLFLOW_TRACKING_URI: the MLflow server is not reachable at {url}: "
                            f"{exc}") from None
    if response.status_code != 200:
        raise SettingsError(f"SHIPYARD_MLFLOW_TRACKING_URI: {url}/health answered {response.status_code}, "
                            "not 200: is this the MLflow server?")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The CLI's settings, read from the environment once. Steps never call this: they are given settings."""
    return Settings.from_env()
