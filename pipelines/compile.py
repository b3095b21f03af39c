"""Compile every pipeline to KFP IR YAML for the KFP UI or `shipyard pipeline submit`."""

from pathlib import Path

from kfp import compiler

from pipelines.training import training_pipeline

PIPELINES = {"training": training_pipeline}


def compile_all(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, pipeline in PIPELINES.items():
        path = out_dir / f"{name}.yaml"
        compiler.Compiler().compile(pipeline_func=pipeline, package_path=str(path))
        written.append(path)
    return written
