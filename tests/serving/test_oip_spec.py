"""A property-based run of the Open Inference Protocol REST specification against `shipyard serve`.

The equivalent of a schemathesis run, kept small: every operation of the reference spec
(``../shared/reference/open-inference-protocol/rest_predict_v2.yaml`` beside the repository) is
called with path parameters drawn by hypothesis (the served model and version, and arbitrary ones)
and, for inference, bodies drawn from the spec's ``inference_request`` schema (``from_schema``
covers the JSON-schema subset the spec uses) or shaped like the feature contract. No answer may
be a 5xx; a 200 must match the spec's response schema; every error must be a JSON body with an
``error`` string. Fast path on and off.
"""

from __future__ import annotations

import copy
import string
from collections.abc import Iterator
from pathlib import Path

import httpx
import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.serving.conftest import serving_on_path
from tests.serving.platforms import require

pytestmark = pytest.mark.integration

SPEC = Path(__file__).resolve().parents[2].parent / "shared/reference/open-inference-protocol/rest_predict_v2.yaml"
CONTRACT = {"customer_id": ("INT64", st.integers(0, 2**63 - 1)), "amount": ("FP64", st.floats(0, 1e6)),
            "merchant_category": ("BYTES", st.sampled_from(["grocery", "travel", "unseen"])),
            "hour": ("INT64", st.integers(0, 23))}


def load_spec() -> dict:
    require(SPEC.exists(), f"the OIP REST specification is not at {SPEC}")  # under CI: a failure
    return yaml.safe_load(SPEC.read_text())


def inline(schema, spec: dict, depth: int = 0):
    """The schema with its ``$ref``s replaced by their targets; recursion stops after two levels."""
    if isinstance(schema, list):
        return [inline(item, spec, depth) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        if depth > 2:
            return {"type": "number"}
        target = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return inline(copy.deepcopy(target), spec, depth + 1)
    return {k: inline(v, spec, depth) for k, v in schema.items() if not k.startswith("x-")}


SCALARS = {"string": st.text(max_size=10), "number": st.floats(allow_nan=False, allow_infinity=False) | st.integers(),
           "integer": st.integers(-(2**70), 2**70), "boolean": st.booleans()}


def from_schema(schema: dict) -> st.SearchStrategy:
    """Values matching an (inlined) OpenAPI 3.0 schema: object, array, anyOf and scalar types."""
    if "anyOf" in schema:
        return st.one_of([from_schema(option) for option in schema["anyOf"]])
    kind = schema.get("type", "object")
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {"type": "string"})), max_size=4)
    if kind != "object":
        return SCALARS[kind]
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    if not properties:  # free-form (``parameters``)
        return st.dictionaries(st.text(max_size=6), SCALARS["string"] | SCALARS["number"], max_size=3)
    return st.fixed_dictionaries({k: from_schema(v) for k, v in properties.items() if k in required},
                                 optional={k: from_schema(v) for k, v in properties.items() if k not in required})


@pytest.fixture(scope="module")
def spec() -> dict:
    return load_spec()


@pytest.fixture(scope="module", params=["fast", "kserve"])
def server(request, spec, trained_home, tmp_path_factory) -> Iterator[str]:
    with serving_on_path(trained_home, tmp_path_factory, "spec", request.param) as url:
        yield url


def check_answer(response: httpx.Response, operation: dict, spec: dict) -> None:
    assert response.status_code < 500, (response.request.url, response.status_code, response.text[:300])
    assert response.status_code < 300 or response.status_code >= 400, response.status_code  # no redirects
    if response.status_code >= 400:
        assert isinstance(response.json()["error"], str), response.text
        return
    schema = operation.get("responses", {}).get("200", {}).get("content", {}).get("application/json", {})
    if "schema" in schema:
        jsonschema.validate(response.json(), inline(schema["schema"], spec))


NAMES = st.one_of(st.just("fraud"), st.text(string.ascii_letters + string.digits + "-_.", min_size=1, max_size=12))
VERSIONS = st.one_of(st.just("1"), st.text(string.ascii_letters + string.digits + "-_.", min_size=1, max_size=6))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data())
def test_every_get_operation_of_the_spec(server, spec, data):
    path, item = data.draw(st.sampled_from(sorted((p, i) for p, i in spec["paths"].items() if "get" in i)))
    concrete = path.replace("${MODEL_NAME}", data.draw(NAMES)).replace("${MODEL_VERSION}", data.draw(VERSIONS))
    response = httpx.get(f"{server}{concrete}", timeout=10)
    check_answer(response, item["get"], spec)
    if concrete in ("/v2/health/live", "/v2/health/ready", "/v2/", "/v2/models/fraud/versions/1/ready",
                    "/v2/models/fraud/versions/1"):
        assert response.status_code == 200, (concrete, response.text)


@st.composite
def contract_request(draw):
    size = draw(st.integers(1, 3))
    return {"id": draw(st.text(max_size=8)), "inputs": [
        {"name": name, "shape": [size], "datatype": datatype, "data": [draw(values) for _ in range(size)]}
        for name, (datatype, values) in CONTRACT.items()]}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data())
def test_inference_operation_of_the_spec(server, spec, data):
    [(path, item)] = [(p, i) for p, i in spec["paths"].items() if p.endswith("/infer")]
    operation = item["post"]
    schema = inline(operation["requestBody"]["content"]["application/json"]["schema"], spec)
    body = data.draw(st.one_of(contract_request(), from_schema(schema)))
    version = data.draw(VERSIONS)
    concrete = path.replace("${MODEL_NAME}", "fraud").replace("${MODEL_VERSION}", version)
    response = httpx.post(f"{server}{concrete}", json=body, timeout=10)
    check_answer(response, operation, spec)
    if version == "1" and body.get("inputs") and body["inputs"][0].get("name") == "customer_id" \
            and "outputs" not in body:
        assert response.status_code == 200, response.text
