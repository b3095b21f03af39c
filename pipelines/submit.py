"""Submit a compiled pipeline to a Kubeflow Pipelines API server with ``kfp.Client``."""

from pathlib import Path

import yaml

TYPES = {"STRING": (str, "string"), "NUMBER_INTEGER": (int, "whole number"), "NUMBER_DOUBLE": (float, "number")}


def parameter_types(package_path: Path) -> dict[str, str]:
    """The pipeline's parameters and their KFP types, read from the compiled IR."""
    spec = yaml.safe_load(package_path.read_text())
    parameters = spec.get("root", {}).get("inputDefinitions", {}).get("parameters", {})
    return {name: definition["parameterType"] for name, definition in parameters.items()}


def typed_arguments(package_path: Path, raw: dict[str, str]) -> dict[str, object]:
    """Turn NAME=VALUE strings from the CLI into the types the pipeline declares; refuse unknown names."""
    types = parameter_types(package_path)
    arguments: dict[str, object] = {}
    for name, text in raw.items():
        if name not in types:
            raise ValueError(f"pipeline has no parameter {name!r}; known: {', '.join(sorted(types))}")
        kind = types[name]
        if kind == "BOOLEAN":
            if text.lower() not in ("true", "false"):
                raise ValueError(f"parameter {name!r} needs true or false, not {text!r}")
            arguments[name] = text.lower() == "true"
        elif kind in TYPES:
            convert, words = TYPES[kind]
            try:
                arguments[name] = convert(text)
            except ValueError:
                raise ValueError(f"parameter {name!r} needs a {words}, not {text!r}") from None
        else:
            raise ValueError(f"parameter {name!r} has type {kind}, which the CLI cannot pass")
    return arguments


def submit(host: str, package_path: Path, arguments: dict[str, object], experiment: str,
           run_name: str | None = None) -> str:
    """Create a run of the compiled package on the KFP server at ``host``; returns the KFP run id."""
    import kfp

    if not package_path.exists():
        raise FileNotFoundError(f"no compiled pipeline at {package_path}: run `shipyard pipeline compile` first")
    client = kfp.Client(host=host)
    result = client.create_run_from_pipeline_package(str(package_path), arguments=arguments,
                                                     experiment_name=experiment, run_name=run_name)
    return result.run_id
