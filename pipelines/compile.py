"""Compile every pipeline to KFP IR YAML for the KFP UI or `shipyard pipeline submit`.

Every task of every compiled pipeline carries its environment (kfp-kubernetes platform config): the
pipeline's settings variables (``COMPONENT_VARIABLES["pipeline"]``) from the ``shipyard-settings``
ConfigMap, the secret ones from their Secrets, and the offline store's volume. A run started from
the KFP UI is therefore configured exactly like a local run of the same YAML.
"""

from pathlib import Path

from shipyard.settings import COMPONENT_VARIABLES

CONFIG_MAP = "shipyard-settings"  # manifests/base/settings/settings.yaml
# Variables that hold credentials: (Secret name, key), filled by ExternalSecrets in the manifests.
SECRET_VARIABLES = {"SHIPYARD_FEAST_REGISTRY_URI": ("feast-registry", "uri")}
# The offline store (SHIPYARD_OFFLINE_STORE_URI) on a cluster: a ReadWriteMany volume every pipeline pod mounts.
OFFLINE_STORE_CLAIM = "offline-store"
OFFLINE_STORE_MOUNT = "/var/lib/shipyard/offline"


def pipelines() -> dict:
    """Name -> pipeline function; imported on call, since defining pipelines loads kfp."""
    from pipelines.batch_scoring import batch_scoring_pipeline
    from pipelines.training import training_pipeline

    # Retraining is the training pipeline with trigger="retraining", a reason and an idempotency key.
    return {"training": training_pipeline, "batch-scoring": batch_scoring_pipeline}


def config_map_variables() -> dict[str, str]:
    """ConfigMap key -> environment variable, for every non-secret variable a pipeline task reads."""
    return {name: name for name in sorted(COMPONENT_VARIABLES["pipeline"]) if name not in SECRET_VARIABLES}


def with_environment(task) -> None:
    """Give one task the pipeline's settings, as the manifests give them to every workload."""
    from kfp import kubernetes

    kubernetes.use_config_map_as_env(task, CONFIG_MAP, config_map_variables())
    for variable, (secret, key) in sorted(SECRET_VARIABLES.items()):
        if variable in COMPONENT_VARIABLES["pipeline"]:
            kubernetes.use_secret_as_env(task, secret, {key: variable})
    kubernetes.mount_pvc(task, OFFLINE_STORE_CLAIM, OFFLINE_STORE_MOUNT)


def with_environment_everywhere(pipeline):
    """The same pipeline, redefined so that every task it creates gets ``with_environment``.

    The pipeline's own Python function is run again under ``dsl.pipeline``; afterwards every task of
    the pipeline being defined (``dsl.pipeline_context.Pipeline.get_default_pipeline().tasks``) gets
    its environment, so a task added to the DAG later cannot be forgotten.
    """
    import functools

    from kfp import dsl

    @functools.wraps(pipeline.pipeline_func)
    def body(*args, **kwargs):
        outputs = pipeline.pipeline_func(*args, **kwargs)
        for task in dsl.pipeline_context.Pipeline.get_default_pipeline().tasks.values():
            with_environment(task)
        return outputs

    return dsl.pipeline(name=pipeline.name, description=pipeline.description)(body)


def compile_function(pipeline, path: Path) -> Path:
    """Compile the ``@dsl.pipeline`` ``pipeline`` to ``path`` with every task's environment attached."""
    from kfp import compiler

    path.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(pipeline_func=with_environment_everywhere(pipeline), package_path=str(path))
    return path


def compile_pipeline(name: str, out_dir: Path) -> Path:
    known = pipelines()
    if name not in known:
        raise ValueError(f"unknown pipeline {name!r}; known: {', '.join(known)}")
    return compile_function(known[name], out_dir / f"{name}.yaml")


def compile_all(out_dir: Path) -> list[Path]:
    return [compile_pipeline(name, out_dir) for name in pipelines()]
