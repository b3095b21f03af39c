"""Feast: open the store for the active profile, apply the use case's definitions, materialize.

The store's configuration is the profile's feature_store*.yaml with its ${VARS} filled from the
settings, never from whatever else is in the environment. Relative source paths in the use case's
Feast definitions resolve under the offline store (SHIPYARD_OFFLINE_STORE_URI), so every process
that reaches the offline store reads the same tables, whatever its own home folder holds.

Feast takes seconds to import, so it is imported inside functions, never at module import.
"""

from __future__ import annotations

import contextlib
import importlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import pandas as pd
import yaml

from shipyard.settings import Settings, SettingsError, check_redis_url
from shipyard.usecase import UseCase

if TYPE_CHECKING:
    from feast import FeatureService, FeatureStore

MATERIALIZE_CHUNK = timedelta(days=1)  # one chunk's newest row per entity is what memory holds


def redis_connection_string(redis_url: str) -> str:
    """Feast's Redis connection string ("host:port,db=N") from a redis:// URL."""
    try:
        check_redis_url(redis_url)
    except SettingsError as exc:
        raise ValueError(str(exc)) from None
    url = urlparse(redis_url)
    db = (url.path or "/0").lstrip("/") or "0"
    parts = [f"{url.hostname or '127.0.0.1'}:{url.port or 6379}", f"db={db}"]
    if url.password:
        parts.append(f"password={url.password}")
    if url.scheme == "rediss":
        parts.append("ssl=true")
    return ",".join(parts)


def yaml_variables(settings: Settings) -> dict[str, str]:
    """The values of the ${VARS} in feature_store*.yaml: the Feast CLI (feature server) reads the same
    names from its environment."""
    return {
        "SHIPYARD_HOME": str(settings.home),
        "SHIPYARD_FEAST_PROJECT": settings.feast_project,
        "SHIPYARD_FEAST_REGISTRY_URI": settings.feast_registry_uri,
        "SHIPYARD_REDIS_CONNECTION": redis_connection_string(settings.redis_url),
    }


def repo_config_dict(settings: Settings) -> dict:
    """feature_store.yaml of the profile with its ${VAR}s filled from the settings."""
    return yaml.safe_load(Template(settings.feature_store_yaml.read_text()).substitute(yaml_variables(settings)))


def feature_store(settings: Settings) -> FeatureStore:
    from feast import FeatureStore
    from feast.repo_config import RepoConfig

    settings.feast_dir.mkdir(parents=True, exist_ok=True)
    settings.offline_store_path.mkdir(parents=True, exist_ok=True)
    config = RepoConfig(repo_path=settings.offline_store_path, **repo_config_dict(settings))
    return FeatureStore(config=config)


def definitions(use_case: UseCase) -> list:
    """Every Feast object declared in the use case's Feast definitions module."""
    from feast import Entity, FeatureService, FeatureView
    from feast.data_source import DataSource

    module = importlib.import_module(use_case.feature_module)
    kinds = (Entity, FeatureView, FeatureService, DataSource)
    return [obj for obj in vars(module).values() if isinstance(obj, kinds)]


def anchored(settings: Settings, objects: list) -> list:
    """Copies of ``objects`` whose relative file sources point into the offline store.

    The use case declares paths relative to the offline store; the registry must hold where the
    tables are for every process (Feast's DuckDB offline store reads a source's path as given).
    """
    import copy

    from feast import FeatureView, FileSource

    objects = copy.deepcopy(objects)  # one copy per shared source, so views and sources stay one object
    sources = [o for o in objects if isinstance(o, FileSource)]
    sources += [o.batch_source for o in objects if isinstance(o, FeatureView) and isinstance(o.batch_source,
                                                                                              FileSource)]
    for source in sources:
        uri = source.file_options.uri
        if "://" not in uri and not Path(uri).is_absolute():
            source.file_options.uri = str(settings.offline_store_path / uri)
    return objects


def source_paths(use_case: UseCase) -> list[str]:
    """Paths of the use case's file sources: tables relative to the offline store (shipyard/data.py)."""
    from feast import FileSource

    return sorted({obj.path for obj in definitions(use_case) if isinstance(obj, FileSource)})


def source_tables(use_case: UseCase) -> dict[str, str]:
    """Feast file source name -> its path: the table ``build_features`` fills for that source."""
    from feast import FileSource

    return {obj.name: obj.path for obj in definitions(use_case) if isinstance(obj, FileSource)}


def apply(settings: Settings, use_case: UseCase) -> list[str]:
    """Register the definitions once in the registry (a file locally, PostgreSQL in prod)."""
    store = feature_store(settings)
    objects = anchored(settings, definitions(use_case))
    store.apply(objects)
    return sorted(f"{type(obj).__name__}:{obj.name}" for obj in objects)


@dataclass(frozen=True)
class ViewMaterialization:
    view: str
    start: datetime
    end: datetime
    chunks: int
    newest_event: datetime | None  # newest feature row the online store now holds (None: nothing yet)


def chunks(start: datetime, end: datetime, size: timedelta) -> list[tuple[datetime, datetime]]:
    """[start, end) cut into consecutive intervals of at most ``size``."""
    if size <= timedelta(0):
        raise ValueError(f"chunk size must be positive, not {size}")
    edges, cursor = [], start
    while cursor < end:
        edges.append((cursor, min(cursor + size, end)))
        cursor += size
    return edges


def materialize_incremental(settings: Settings, end: datetime | None = None,
                            chunk: timedelta = MATERIALIZE_CHUNK) -> list[ViewMaterialization]:
    """Load what is new since each view's last materialization into the online store, chunk by chunk.

    A view never materialized starts at the oldest row of its source. Each chunk reads only the newest
    row per entity within its interval (Feast's pull_latest_from_table_or_query, in DuckDB), so memory
    is bounded by the entities of one chunk, not by the table; chunks run oldest first and Feast's
    Redis writer keeps the newer row of an entity. Feast records each interval in the registry, so
    the next run starts where this one stopped, even from another process with an empty home.
    """
    store = feature_store(settings)
    done = []
    for view in store.list_feature_views():
        view_end = end or _newest_source_time(settings, view) or datetime.now(UTC)
        start = view.most_recent_end_time or _oldest_source_time(settings, view) or view_end
        intervals = chunks(start, view_end, chunk)
        with contextlib.redirect_stdout(io.StringIO()):  # Feast prints its own progress bars
            for chunk_start, chunk_end in intervals:
                store.materialize(start_date=chunk_start, end_date=chunk_end, feature_views=[view.name])
        newest = _newest_source_time(settings, view, until=view_end)
        done.append(ViewMaterialization(view.name, start, view_end, len(intervals), newest))
    return done


def materialize(settings: Settings, end: datetime | None = None) -> tuple[datetime, datetime]:
    """Bring the online store up to date (incrementally); returns the overall interval covered."""
    done = materialize_incremental(settings, end)
    if not done:
        raise LookupError("no feature views in the Feast registry: run `shipyard features apply` first")
    return min(d.start for d in done), max(d.end for d in done)


def _source_glob(settings: Settings, view) -> str:
    path = Path(view.batch_source.path)
    path = path if path.is_absolute() else settings.offline_store_path / path
    return str(path / "**" / "*.parquet") if path.is_dir() else str(path)


def _source_time(settings: Settings, view, aggregate: str, until: datetime | None = None) -> datetime | None:
    """min/max of the source's timestamp column, computed by DuckDB over the Parquet files (one column
    streamed, whatever the table's size)."""
    import duckdb

    column = view.batch_source.timestamp_field
    where = f" WHERE \"{column}\" <= ?" if until else ""
    query = f"SELECT {aggregate}(\"{column}\") FROM read_parquet(?, hive_partitioning = true){where}"
    try:
        with duckdb.connect() as connection:
            value = connection.execute(query, [_source_glob(settings, view), *([until] if until else [])]).fetchone()[0]
    except duckdb.IOException:  # no files yet
        return None
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    return (stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)).to_pydatetime()


def _oldest_source_time(settings: Settings, view) -> datetime | None:
    return _source_time(settings, view, "min")


def _newest_source_time(settings: Settings, view, until: datetime | None = None) -> datetime | None:
    return _source_time(settings, view, "max", until)


def contract(store: FeatureStore, use_case: UseCase) -> tuple[FeatureService, list[str]]:
    """The feature service and its feature names, in the service's order."""
    service = store.get_feature_service(use_case.feature_service)
    names = [f.name for projection in service.feature_view_projections for f in projection.features]
    return service, names
