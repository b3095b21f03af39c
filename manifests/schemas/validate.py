"""Validate rendered Kubernetes YAML: core kinds with kubernetes-validate, custom kinds against the
schemas in this directory. Unknown fields are errors in both (like `kubectl apply
--validate=strict`); a kind with no schema at all is an error too, never a silent pass.

Usage (from the tools venv): python manifests/schemas/validate.py RENDERED.yaml [...]
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

KUBERNETES_VERSION = "1.32.0"  # the oldest minor the platform supports
SCHEMA_DIR = Path(__file__).resolve().parent


def _close(node: Any) -> Any:
    """Make objects with declared properties reject unknown ones, as the API server's strict
    field validation does (CRD schemas leave this implicit). Also move Go's mid-pattern `(?i)` to
    the front, where Python's `re` requires it (slightly more lenient, never stricter)."""
    if isinstance(node, list):
        return [_close(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _close(v) for k, v in node.items()}
    if ("properties" in out and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    pattern = out.get("pattern")
    if isinstance(pattern, str) and "(?i)" in pattern[1:]:
        out["pattern"] = "(?i)" + pattern.replace("(?i)", "")
    return out


def load_custom_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> closed JSON schema, from every *.json here."""
    schemas = {}
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        schema = json.loads(path.read_text())
        gvk = schema["x-shipyard-gvk"]
        schemas[(f"{gvk['group']}/{gvk['version']}", gvk["kind"])] = _close(schema)
    return schemas


def _metadata_errors(doc: dict[str, Any]) -> list[str]:
    name = (doc.get("metadata") or {}).get("name", "")
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", name):
        return [f"metadata.name {name!r} is not a DNS-1123 name"]
    return []


def validate_doc(doc: dict[str, Any], custom: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    key = (doc.get("apiVersion", ""), doc.get("kind", ""))
    errors = _metadata_errors(doc)
    if key in custom:
        validator = jsonschema.Draft7Validator(custom[key])
        errors += [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
                   for e in validator.iter_errors(doc)]
        return errors
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        errors.append(f"{'.'.join(map(str, e.path)) or '<root>'}: {e.message}")
    except kubernetes_validate.SchemaNotFoundError:
        errors.append(f"no schema for {key[0]} {key[1]} (add one to manifests/schemas/)")
    return errors


def validate_stream(text: str) -> list[str]:
    custom = load_custom_schemas()
    failures = []
    for doc in yaml.safe_load_all(text):
        if not doc:
            continue
        label = f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
        failures += [f"{label}: {err}" for err in validate_doc(doc, custom)]
    return failures


def main(paths: list[str]) -> int:
    failures = []
    for path in paths:
        failures += [f"{path}: {f}" for f in validate_stream(Path(path).read_text())]
    print("\n".join(failures) if failures else f"valid: {', '.join(paths)}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
