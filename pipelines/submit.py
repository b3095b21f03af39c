"""Submit a compiled pipeline to a Kubeflow Pipelines API server with ``kfp.Client``."""

from pathlib import Path

import yaml

TYPES = {"STRING": (str, "string"), "NUMBER_INTEGER": (int, "whole number"), "NUMBER_DOUBLE": (float, "number")}


def pipeline_parameters(package_path: Path) -> dict[str, dict]:
    """The pipeline's parameter definitions, read from the compiled IR (its first YAML document; the
    second, when present, is the Kubernetes platform config)."""
    spec = next(yaml.safe_load_all(package_path.read_text()))
    return spec.get("root", {}).get("inputDefinitions", {}).get("parameters", {})


def parameter_types(package_path: Path) -> dict[str, str]:
    """The pipeline's parameters and their KFP types."""
    return {name: definition["parameterType"] for name, definition in pipeline_parameters(package_path).items()}


def required_parameters(package_path: Path) -> set[str]:
    """Parameters a run must be given: no default in the pipeline's signature."""
    return {name for name, definition in pipeline_parameters(package_path).items()
            if not definition.get("isOptional") and "defaultValue" not in definition}


def check_arguments(package_path: Path, arguments: dict[str, object]) -> None:
    """Refuse a run that would lack a required parameter, or name one the pipeline does not have."""
    known = pipeline_parameters(package_path)
    unknown = sorted(set(arguments) - set(known))
    if unknown:
        raise ValueError(f"pipeline has no parameter {', '.join(map(repr, unknown))}; "
                         f"known: {', '.join(sorted(known))}")
    missing = sorted(required_parameters(package_path) - set(arguments))
    if missing:
        raise ValueError(f"the pipeline needs {', '.join(missing)}: pass them as NAME=VALUE")


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
    check_arguments(package_path, arguments)
    client = kfp.Client(host=host)
    result = client.create_run_from_pipeline_package(str(package_path), arguments=arguments,
                                                     experiment_name=experiment, run_name=run_name)
    return result.run_id
