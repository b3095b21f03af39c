"""MLflow tracking and registry access shared by the pipeline, the predictor and the drift job."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from shipyard.settings import Settings

CHAMPION = "champion"
CHALLENGER = "challenger"  # the newest registered candidate, whatever the gate decided
REFERENCE_ARTIFACT = "reference/training_set.parquet"


def client(settings: Settings):
    import mlflow
    from mlflow import MlflowClient

    if settings.mlflow_tracking_uri.startswith("sqlite:"):
        _connection_per_session()
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_registry_uri(settings.mlflow_tracking_uri)
    return MlflowClient(settings.mlflow_tracking_uri, settings.mlflow_tracking_uri)


def _connection_per_session() -> None:
    """A local SQLite registry: one database connection per MLflow session, none kept in a pool.

    MLflow keeps one SQLAlchemy engine per database URI for the life of the process, and a pooled
    SQLite connection stays on the file it opened: once the demo's fresh start deletes mlflow.db and
    a pipeline step creates a new one at the same path, a pooled connection would still read the
    deleted file (the previous run's versions). MLflow's documented MLFLOW_SQLALCHEMYSTORE_POOLCLASS
    setting makes each session open the file that is there now. It applies to engines created after
    it is set, so it is set before this process's first MLflow client; a value the user set wins.
    """
    import os

    os.environ.setdefault("MLFLOW_SQLALCHEMYSTORE_POOLCLASS", "NullPool")


def experiment_id(settings: Settings, name: str) -> str:
    """The experiment's id, created with artifacts under the profile's artifact root."""
    mlflow_client = client(settings)
    experiment = mlflow_client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    # With a tracking server (prod) the server chooses and proxies the artifact location.
    location = f"{settings.mlflow_artifact_root}/{name}" if settings.mlflow_artifact_root else None
    return mlflow_client.create_experiment(name, artifact_location=location)


def resolve_version(settings: Settings, model_name: str, alias: str = CHAMPION) -> int:
    """The pinned version behind an alias; the settings' SHIPYARD_MODEL_VERSION wins when set."""
    if settings.model_version is not None:
        return settings.model_version
    from mlflow.exceptions import MlflowException

    try:
        return int(client(settings).get_model_version_by_alias(model_name, alias).version)
    except MlflowException as exc:
        raise LookupError(f"registered model {model_name!r} has no alias {alias!r}: run the training "
                          "pipeline first (shipyard pipeline run training)") from exc


def alias_version(settings: Settings, model_name: str, alias: str) -> int | None:
    """The registry's own answer (SHIPYARD_MODEL_VERSION is ignored): None when the alias is unset."""
    from mlflow.exceptions import MlflowException

    try:
        return int(client(settings).get_model_version_by_alias(model_name, alias).version)
    except MlflowException:
        return None


def versions_tagged(settings: Settings, model_name: str, tag: str, value: str) -> list[int]:
    """Versions of ``model_name`` whose tag ``tag`` equals ``value``, oldest first."""
    found = client(settings).search_model_versions(f"name = '{model_name}' and tags.`{tag}` = '{value}'")
    return sorted(int(v.version) for v in found)


def model_uri(model_name: str, version: int) -> str:
    return f"models:/{model_name}/{version}"


def load_sklearn_model(settings: Settings, model_name: str, version: int):
    import mlflow.sklearn

    client(settings)
    return mlflow.sklearn.load_model(model_uri(model_name, version))


def input_columns(settings: Settings, model_name: str, version: int) -> list[str]:
    """The model's input columns, in order, from its registered signature."""
    from mlflow.models import get_model_info

    client(settings)
    return get_model_info(model_uri(model_name, version)).signature.inputs.input_names()


def run_id(settings: Settings, model_name: str, version: int) -> str:
    """The MLflow run that produced a version: unlike the version number, never reused by another registry."""
    return client(settings).get_model_version(model_name, str(version)).run_id


def reference_data(settings: Settings, model_name: str, version: int, dst: Path) -> pd.DataFrame:
    """The training set a model version was fit on, found through its run (MLflow lineage)."""
    mlflow_client = client(settings)
    run_id = mlflow_client.get_model_version(model_name, str(version)).run_id
    dst.mkdir(parents=True, exist_ok=True)
    local = mlflow_client.download_artifacts(run_id, REFERENCE_ARTIFACT, str(dst))
    return pd.read_parquet(local)
