"""Register a candidate in MLflow as the ``challenger``, with its lineage; once per pipeline run.

The champion alias is never touched here: only the gate (components/gate.py) moves it.
"""

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from shipyard.settings import Settings

RUN_TAG = "shipyard.kfp_run_id"  # the idempotency key of registration
MLFLOW_TYPES = {"int": "long", "float": "double", "category": "string"}
VALIDATION_REPORT = Path("validation/report.md")
PANDAS_TYPES = {"int": "int64", "float": "float64", "category": "object"}


@dataclass(frozen=True)
class Registration:
    model_name: str
    version: int
    run_id: str
    created: bool  # False when this pipeline run had registered the version already


def contract_signature(feature_columns: list[str], feature_types: dict[str, str], example: pd.DataFrame, scores,
                       output_name: str | None = None):
    """The model signature from the feature contract (not guessed from a sample of the data).

    ``output_name`` (the use case's ``output_name``) names the output column, a double; without it the
    output is inferred from ``scores`` (the classifier's unnamed probability tensor)."""
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types import ColSpec, Schema

    inputs = Schema([ColSpec(MLFLOW_TYPES[feature_types[name]], name) for name in feature_columns])
    if output_name:
        return ModelSignature(inputs=inputs, outputs=Schema([ColSpec("double", output_name)]))
    return ModelSignature(inputs=inputs, outputs=infer_signature(example, scores).outputs)


def register_model(settings: Settings, model_path: str, train_path: str, feature_columns: list[str],
                   feature_types: dict[str, str], metrics: dict[str, float], params: dict[str, object],
                   pipeline_run: str, tags: dict[str, str], run_name: str = "", report_path: str = "") -> Registration:
    """Log params, metrics, signature, input example, training data and lineage tags; register."""
    import mlflow
    import mlflow.data
    import mlflow.sklearn

    from components.train import SKOPS_TRUSTED_TYPES, load_model, predictions_of
    from shipyard import data, registry
    from shipyard.usecase import load_use_case

    if not pipeline_run:
        raise ValueError("pipeline_run is required: it makes registration idempotent")
    use_case = load_use_case(settings.use_case)
    mlflow_client = registry.client(settings)
    existing = registry.versions_tagged(settings, use_case.model_name, RUN_TAG, pipeline_run)
    if existing:
        version = mlflow_client.get_model_version(use_case.model_name, str(existing[0]))
        return Registration(use_case.model_name, existing[0], version.run_id, created=False)

    model = load_model(model_path)
    train = pd.read_parquet(train_path)
    example = train[feature_columns].head(5).astype({c: PANDAS_TYPES[feature_types[c]] for c in feature_columns})
    # A regression's output is named by the contract; the classifier keeps the probability tensor its
    # predictor serves.
    signature = contract_signature(feature_columns, feature_types, example,
                                   predictions_of(model, example, feature_columns, use_case.task),
                                   output_name=use_case.output_name if use_case.is_regression else None)
    lineage = {RUN_TAG: pipeline_run, "shipyard.pipeline_run": run_name or pipeline_run,
               "shipyard.feature_service": use_case.feature_service, **tags}

    experiment = registry.experiment_id(settings, f"{use_case.model_name}-training")
    with mlflow.start_run(experiment_id=experiment, run_name=run_name or pipeline_run) as run:
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        mlflow.set_tags(lineage)
        # Named by its window; the digest is the window's content hash, so another window (or new data
        # in the same window) is another dataset in MLflow.
        window = tags.get("shipyard.training_window", "")
        dataset = mlflow.data.from_pandas(train, source=str(data.table_dir(settings, data.EVENTS)),
                                          targets=use_case.label, name=f"{use_case.model_name}-training-set",
                                          digest=tags.get("shipyard.data_snapshot", "")[-16:] or None)
        mlflow.log_input(dataset, context="training", tags={"shipyard.training_window": window} if window else None)
        with tempfile.TemporaryDirectory() as tmp:  # the drift job's reference data, found via this run
            reference = Path(tmp) / Path(registry.REFERENCE_ARTIFACT).name
            train.to_parquet(reference, index=False)
            mlflow.log_artifact(str(reference), artifact_path=str(Path(registry.REFERENCE_ARTIFACT).parent))
        if report_path:  # the validation report the data passed, next to the model it allowed
            with tempfile.TemporaryDirectory() as tmp:
                named = Path(tmp) / VALIDATION_REPORT.name
                named.write_text(Path(report_path).read_text())
                mlflow.log_artifact(str(named), artifact_path=str(VALIDATION_REPORT.parent))
        info = mlflow.sklearn.log_model(
            model, name="model", signature=signature, input_example=example,
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
            skops_trusted_types=SKOPS_TRUSTED_TYPES, registered_model_name=use_case.model_name)
    version = str(info.registered_model_version)
    for key, value in lineage.items():
        mlflow_client.set_model_version_tag(use_case.model_name, version, key, value)
    mlflow_client.set_registered_model_alias(use_case.model_name, registry.CHALLENGER, version)
    return Registration(use_case.model_name, int(version), run.info.run_id, created=True)
