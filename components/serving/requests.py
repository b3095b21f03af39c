"""Validate scoring requests against the use case's request-field contract.

Every problem becomes ``kserve.errors.InvalidInput`` (HTTP 400, JSON ``{"error": ...}``) naming the
instance and field, so a client never sees a 500 for its own mistake.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
import pandas as pd
from kserve.errors import InvalidInput

from shipyard.usecase import RequestField, UseCase

MAX_INSTANCES = 1000


def decode_body(payload: Any) -> Any:
    """KServe hands over raw bytes when the Content-Type is not JSON: accept JSON bytes anyway."""
    if isinstance(payload, (bytes, str)):
        try:
            return orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"request body is not valid JSON: {exc}") from None
    return payload


def _check_value(spec: RequestField, value: Any, where: str) -> Any:
    if spec.kind == "category":
        if not isinstance(value, str) or not value:
            raise InvalidInput(f"{where}: field {spec.name!r} must be a non-empty string")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{where}: field {spec.name!r} must be a number, got {type(value).__name__}")
    if spec.kind == "int" and not (isinstance(value, int) or float(value).is_integer()):
        raise InvalidInput(f"{where}: field {spec.name!r} must be a whole number, got {value!r}")
    if not math.isfinite(value):
        raise InvalidInput(f"{where}: field {spec.name!r} must be finite, got {value!r}")
    if spec.minimum is not None and value < spec.minimum:
        raise InvalidInput(f"{where}: field {spec.name!r} must be >= {spec.minimum}, got {value!r}")
    if spec.maximum is not None and value > spec.maximum:
        raise InvalidInput(f"{where}: field {spec.name!r} must be <= {spec.maximum}, got {value!r}")
    return int(value) if spec.kind == "int" else float(value)


def parse_v1(payload: Any, use_case: UseCase) -> pd.DataFrame:
    """``{"instances": [{field: value, ...}, ...]}`` -> one typed row per instance."""
    payload = decode_body(payload)
    if not isinstance(payload, dict) or "instances" not in payload:
        raise InvalidInput('request body must be a JSON object with an "instances" list')
    instances = payload["instances"]
    if not isinstance(instances, list) or not instances:
        raise InvalidInput('"instances" must be a non-empty list')
    if len(instances) > MAX_INSTANCES:
        raise InvalidInput(f'"instances" has {len(instances)} items; at most {MAX_INSTANCES} per request')
    rows = []
    for i, instance in enumerate(instances):
        where = f"instances[{i}]"
        if not isinstance(instance, dict):
            raise InvalidInput(f"{where} must be an object with fields "
                               f"{', '.join(f.name for f in use_case.request_fields)}")
        unknown = sorted(set(instance) - {f.name for f in use_case.request_fields})
        if unknown:
            raise InvalidInput(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}")
        row = {}
        for spec in use_case.request_fields:
            if spec.name not in instance or instance[spec.name] is None:
                raise InvalidInput(f"{where}: missing field {spec.name!r}")
            row[spec.name] = _check_value(spec, instance[spec.name], where)
        rows.append(row)
    return pd.DataFrame(rows, columns=[f.name for f in use_case.request_fields])
