"""Feast: open the store for the active profile, apply the use case's definitions, materialize.

Feast takes seconds to import, so it is imported inside functions, never at module import.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
from datetime import datetime
from string import Template
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import yaml

from shipyard.settings import Settings
from shipyard.usecase import UseCase

if TYPE_CHECKING:
    from feast import FeatureService, FeatureStore


def redis_connection_string(redis_url: str) -> str:
    """Feast's Redis connection string ("host:port,db=N") from a redis:// URL."""
    url = urlparse(redis_url)
    if url.scheme not in ("redis", "rediss"):
        raise ValueError(f"SHIPYARD_REDIS_URL must be a redis:// URL, not {redis_url!r}")
    db = (url.path or "/0").lstrip("/") or "0"
    parts = [f"{url.hostname or '127.0.0.1'}:{url.port or 6379}", f"db={db}"]
    if url.password:
        parts.append(f"password={url.password}")
    if url.scheme == "rediss":
        parts.append("ssl=true")
    return ",".join(parts)


def repo_config_dict(settings: Settings) -> dict:
    """feature_store.yaml of the profile with its ${VAR}s filled from the settings."""
    values = {
        **os.environ,
        "SHIPYARD_HOME": str(settings.home),
        "SHIPYARD_FEAST_PROJECT": settings.feast_project,
        "SHIPYARD_REDIS_CONNECTION": redis_connection_string(settings.redis_url),
    }
    return yaml.safe_load(Template(settings.feature_store_yaml.read_text()).substitute(values))


def feature_store(settings: Settings) -> FeatureStore:
    from feast import FeatureStore
    from feast.repo_config import RepoConfig

    settings.ensure_dirs()
    config = RepoConfig(repo_path=settings.feast_dir, **repo_config_dict(settings))
    return FeatureStore(config=config)


def definitions(use_case: UseCase) -> list:
    """Every Feast object declared in the use case's Feast definitions module."""
    from feast import Entity, FeatureService, FeatureView
    from feast.data_source import DataSource

    module = importlib.import_module(use_case.feature_module)
    kinds = (Entity, FeatureView, FeatureService, DataSource)
    return [obj for obj in vars(module).values() if isinstance(obj, kinds)]


def source_paths(use_case: UseCase) -> list[str]:
    """Paths of the use case's file sources: tables relative to the offline store (shipyard/data.py)."""
    from feast import FileSource

    return sorted({obj.path for obj in definitions(use_case) if isinstance(obj, FileSource)})


def resolved_definitions(settings: Settings, use_case: UseCase) -> list:
    """The use case's definitions with each relative FileSource path placed under the offline store.

    Feast's DuckDB offline store reads ``FileSource.path`` as given (relative to the process's working
    directory, not the repo), so the registry must hold the resolved location. The module's objects are
    copied, never changed: one process may serve several settings (tests do).
    """
    import copy

    from feast import FileSource

    from shipyard.data import offline_root

    objects = copy.deepcopy(definitions(use_case))  # one deepcopy: views keep sharing their copied source
    sources = [obj for obj in objects if isinstance(obj, FileSource)]
    sources += [getattr(obj, "batch_source", None) for obj in objects]
    for source in sources:
        if isinstance(source, FileSource) and "://" not in source.path and not source.path.startswith("/"):
            source.file_options.uri = str(offline_root(settings) / source.path)
    return objects


def apply(settings: Settings, use_case: UseCase) -> list[str]:
    store = feature_store(settings)
    objects = resolved_definitions(settings, use_case)
    store.apply(objects)
    return sorted(f"{type(obj).__name__}:{obj.name}" for obj in objects)


def materialize(settings: Settings, end: datetime | None = None) -> tuple[datetime, datetime]:
    """Load the latest feature values of every entity into the online store."""
    from shipyard import data
    from shipyard.usecase import load_use_case

    use_case = load_use_case(settings.use_case)
    table = data.read_table(settings, data.feature_table(use_case), use_case.timestamp,
                            columns=[use_case.timestamp])
    if table.empty:
        raise LookupError("the offline store has no feature rows: run `shipyard data generate` first")
    start = table[use_case.timestamp].min().to_pydatetime()
    end = end or table[use_case.timestamp].max().to_pydatetime()
    with contextlib.redirect_stdout(io.StringIO()):  # Feast prints its own progress bars
        feature_store(settings).materialize(start_date=start, end_date=end)
    return start, end


def contract(store: FeatureStore, use_case: UseCase) -> tuple[FeatureService, list[str]]:
    """The feature service and its feature names, in the service's order."""
    service = store.get_feature_service(use_case.feature_service)
    names = [f.name for projection in service.feature_view_projections for f in projection.features]
    return service, names
