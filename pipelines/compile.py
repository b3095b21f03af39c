"""Compile every pipeline to KFP IR YAML for the KFP UI or `shipyard pipeline submit`."""

from pathlib import Path


def pipelines() -> dict:
    """Name -> pipeline function; imported on call, since defining pipelines loads kfp."""
    from pipelines.batch_scoring import batch_scoring_pipeline
    from pipelines.retraining import retraining_pipeline
    from pipelines.training import training_pipeline

    return {"training": training_pipeline, "retraining": retraining_pipeline,
            "batch-scoring": batch_scoring_pipeline}


def compile_pipeline(name: str, out_dir: Path) -> Path:
    from kfp import compiler

    known = pipelines()
    if name not in known:
        raise ValueError(f"unknown pipeline {name!r}; known: {', '.join(known)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.yaml"
    compiler.Compiler().compile(pipeline_func=known[name], package_path=str(path))
    return path


def compile_all(out_dir: Path) -> list[Path]:
    return [compile_pipeline(name, out_dir) for name in pipelines()]
