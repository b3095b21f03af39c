"""Upload the compiled training pipeline to Kubeflow Pipelines and keep one recurring run.

Runs as the `kfp-deployer` Argo CD PostSync Job inside the Shipyard image. Idempotent: a pipeline
version that already exists is reused, and the recurring run is replaced only when it points at an
older version. Settings come from the environment so the Job manifest stays the one place to edit.
"""

from __future__ import annotations

import json
import os
from typing import Any


def required_parameters(package: str) -> set[str]:
    """Parameters without a default in the compiled pipeline (its first YAML document)."""
    import yaml  # a dependency of kfp, so in the image

    with open(package) as stream:
        spec = next(yaml.safe_load_all(stream))
    parameters = spec.get("root", {}).get("inputDefinitions", {}).get("parameters", {})
    return {name for name, definition in parameters.items()
            if not definition.get("isOptional") and "defaultValue" not in definition}


def run_arguments(package: str, raw: str) -> dict[str, Any]:
    """The recurring run's arguments (JSON object); every required parameter must be there."""
    try:
        arguments = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        raise SystemExit(f"error: SHIPYARD_RECURRING_ARGUMENTS is not JSON: {exc}") from None
    if not isinstance(arguments, dict):
        raise SystemExit("error: SHIPYARD_RECURRING_ARGUMENTS must be a JSON object of NAME: VALUE")
    missing = sorted(required_parameters(package) - set(arguments))
    if missing:
        raise SystemExit(f"error: SHIPYARD_RECURRING_ARGUMENTS lacks the pipeline's required "
                         f"parameters {', '.join(missing)}")
    return arguments


def ensure_pipeline_version(client: Any, package: str, pipeline: str, version: str) -> tuple[str, str]:
    """Return (pipeline_id, version_id), uploading whatever is missing."""
    pipeline_id = client.get_pipeline_id(pipeline)
    if pipeline_id is None:
        pipeline_id = client.upload_pipeline(package, pipeline_name=pipeline).pipeline_id
    versions = client.list_pipeline_versions(pipeline_id, page_size=100).pipeline_versions or []
    for existing in versions:
        if existing.display_name == version:
            return pipeline_id, existing.pipeline_version_id
    created = client.upload_pipeline_version(package, version, pipeline_id=pipeline_id)
    return pipeline_id, created.pipeline_version_id


def ensure_experiment(client: Any, name: str, namespace: str | None) -> str:
    try:
        return client.get_experiment(experiment_name=name, namespace=namespace).experiment_id
    except ValueError:  # kfp raises ValueError when no experiment has that name
        return client.create_experiment(name, namespace=namespace).experiment_id


def ensure_recurring_run(client: Any, experiment_id: str, job: str, pipeline_id: str,
                         version_id: str, cron: str, arguments: dict[str, Any] | None = None) -> str:
    """Keep exactly one recurring run named `job`, pointing at `version_id`."""
    listing = client.list_recurring_runs(experiment_id=experiment_id, page_size=100)
    for run in listing.recurring_runs or []:
        if run.display_name != job:
            continue
        if run.pipeline_version_reference.pipeline_version_id == version_id:
            return run.recurring_run_id
        client.delete_recurring_run(run.recurring_run_id)
    created = client.create_recurring_run(
        experiment_id, job, cron_expression=cron, pipeline_id=pipeline_id,
        version_id=version_id, params=arguments or {}, max_concurrency=1, no_catchup=True)
    return created.recurring_run_id


def main() -> None:
    import kfp  # imported here: the helpers above are tested without KFP installed

    env = os.environ
    namespace = env.get("KFP_NAMESPACE") or None
    arguments = run_arguments(env["SHIPYARD_PIPELINE_PACKAGE"], env.get("SHIPYARD_RECURRING_ARGUMENTS", ""))
    client = kfp.Client(host=env["KFP_HOST"], namespace=namespace or "kubeflow")
    pipeline_id, version_id = ensure_pipeline_version(
        client, env["SHIPYARD_PIPELINE_PACKAGE"], env["SHIPYARD_PIPELINE_NAME"],
        env["SHIPYARD_PIPELINE_VERSION"])
    experiment_id = ensure_experiment(client, env["SHIPYARD_EXPERIMENT"], namespace)
    run_id = ensure_recurring_run(client, experiment_id, env["SHIPYARD_RECURRING_RUN"],
                                  pipeline_id, version_id, env["SHIPYARD_RECURRING_CRON"], arguments)
    print(f"pipeline={pipeline_id} version={version_id} recurring_run={run_id}")


if __name__ == "__main__":
    main()
