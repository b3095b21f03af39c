"""Register the model in MLflow and make it champion when it passes the quality threshold."""

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class Registration:
    model_name: str
    version: int
    run_id: str
    champion: bool
    reason: str


def register_model(model_path: str, train_path: str, feature_columns: list[str], metrics: dict[str, float],
                   params: dict[str, object], min_roc_auc: float, pipeline_run: str) -> Registration:
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    from components.train import SKOPS_TRUSTED_TYPES, load_model
    from shipyard import registry
    from shipyard.settings import get_settings
    from shipyard.usecase import load_use_case

    settings = get_settings()
    use_case = load_use_case(settings.use_case)
    model = load_model(model_path)
    train = pd.read_parquet(train_path)
    example = train[feature_columns].head(5)
    signature = infer_signature(example, model.predict_proba(example)[:, 1])

    mlflow_client = registry.client(settings)
    experiment = registry.experiment_id(settings, f"{use_case.model_name}-training")
    with mlflow.start_run(experiment_id=experiment, run_name=pipeline_run) as run:
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        mlflow.set_tags({"shipyard.pipeline_run": pipeline_run, "shipyard.feature_service": use_case.feature_service})
        with tempfile.TemporaryDirectory() as tmp:  # the drift job's reference data, found via this run
            reference = Path(tmp) / Path(registry.REFERENCE_ARTIFACT).name
            train.to_parquet(reference, index=False)
            mlflow.log_artifact(str(reference), artifact_path=str(Path(registry.REFERENCE_ARTIFACT).parent))
        info = mlflow.sklearn.log_model(
            model, name="model", signature=signature, input_example=example,
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
            skops_trusted_types=SKOPS_TRUSTED_TYPES, registered_model_name=use_case.model_name)
    version = int(info.registered_model_version)
    roc_auc = metrics["roc_auc"]
    champion = roc_auc >= min_roc_auc
    if champion:
        mlflow_client.set_registered_model_alias(use_case.model_name, registry.CHAMPION, str(version))
        reason = f"roc_auc {roc_auc:.4f} >= threshold {min_roc_auc}"
    else:
        reason = f"roc_auc {roc_auc:.4f} < threshold {min_roc_auc}: champion unchanged"
    mlflow_client.set_model_version_tag(use_case.model_name, str(version), "shipyard.gate", reason)
    return Registration(use_case.model_name, version, run.info.run_id, champion, reason)
