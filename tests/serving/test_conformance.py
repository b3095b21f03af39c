"""The reference Open Inference Protocol client (tritonclient) against a real `shipyard serve`.

Every test runs twice: with the fast path in front of KServe, and with it off (KServe's own data
plane answers everything). Requests are built from the model metadata the server publishes, as an
OIP client that knows nothing about fraud would build them.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

from shipyard_cli.processes import free_port
from tests.serving.conftest import start_serve
from tests.serving.platforms import copy_platform

pytestmark = pytest.mark.integration

ROWS = [{"customer_id": 17, "amount": 42.5, "merchant_category": "grocery", "hour": 13},
        {"customer_id": 18, "amount": 900.0, "merchant_category": "travel", "hour": 2}]
NUMPY = {"INT64": np.int64, "INT32": np.int32, "FP64": np.float64, "FP32": np.float32, "BYTES": np.object_}


class Server:
    def __init__(self, url: str, grpc_url: str, mode: str):
        self.url, self.grpc_url, self.mode = url, grpc_url, mode
        self.http_host = url.removeprefix("http://")


@pytest.fixture(scope="module", params=["fast", "kserve"])
def server(request, trained_home, tmp_path_factory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp(f"oip-{request.param}") / "home"
    grpc_port = free_port()
    args = ["--grpc-port", str(grpc_port)] + ([] if request.param == "fast" else ["--no-fast-path"])
    process, url = start_serve(copy_platform(trained_home, home), home / "serve.log", *args)
    try:
        yield Server(url, f"127.0.0.1:{grpc_port}", request.param)
    finally:
        process.stop()


def inputs_from_metadata(metadata_inputs: list[dict], module, binary: bool) -> list:
    """One tensor per input the server lists, in the datatype it asks for, filled from ROWS."""
    tensors = []
    for spec in metadata_inputs:
        assert spec["shape"] == [-1], spec
        values = np.array([row[spec["name"]] for row in ROWS], dtype=NUMPY[spec["datatype"]])
        tensor = module.InferInput(spec["name"], [len(ROWS)], spec["datatype"])
        if module is httpclient:
            tensor.set_data_from_numpy(values, binary_data=binary)
        else:
            tensor.set_data_from_numpy(values)
        tensors.append(tensor)
    return tensors


def v1_scores(server: Server) -> list[float]:
    response = httpx.post(f"{server.url}/v1/models/fraud:predict", json={"instances": ROWS}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["predictions"]


def test_metadata_lists_the_contract_inputs_and_the_output(server):
    client = httpclient.InferenceServerClient(server.http_host)
    metadata = client.get_model_metadata("fraud")
    assert [(i["name"], i["datatype"]) for i in metadata["inputs"]] == [
        ("customer_id", "INT64"), ("amount", "FP64"), ("merchant_category", "BYTES"), ("hour", "INT64")]
    assert metadata["outputs"] == [{"name": "fraud_probability", "datatype": "FP64", "shape": [-1]}]
    grpc_metadata = grpcclient.InferenceServerClient(server.grpc_url).get_model_metadata("fraud", as_json=True)
    assert [i["name"] for i in grpc_metadata["inputs"]] == [i["name"] for i in metadata["inputs"]]
    assert [o["name"] for o in grpc_metadata["outputs"]] == ["fraud_probability"]


def test_liveness_and_readiness_over_http_and_grpc(server):
    http = httpclient.InferenceServerClient(server.http_host)
    grpc = grpcclient.InferenceServerClient(server.grpc_url)
    for client in (http, grpc):
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("fraud")
        assert client.is_model_ready("fraud", "1")  # the served version
        assert not http.is_model_ready("fraud", "7")


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_http_infer_built_from_metadata_matches_v1(server, binary):
    client = httpclient.InferenceServerClient(server.http_host)
    inputs = inputs_from_metadata(client.get_model_metadata("fraud")["inputs"], httpclient, binary)
    outputs = [httpclient.InferRequestedOutput("fraud_probability", binary_data=binary)]
    for requested in (None, outputs):  # no outputs named: tritonclient asks for binary output data
        result = client.infer("fraud", inputs, outputs=requested, request_id=f"oip-{binary}")
        scores = result.as_numpy("fraud_probability")
        assert scores.dtype == np.float64 and scores.shape == (2,)
        assert scores.tolist() == pytest.approx(v1_scores(server), abs=1e-12)
        assert result.get_response()["id"] == f"oip-{binary}"


def test_grpc_infer_built_from_metadata_matches_v1(server):
    client = grpcclient.InferenceServerClient(server.grpc_url)
    metadata = client.get_model_metadata("fraud", as_json=True)
    inputs = inputs_from_metadata(metadata["inputs"], grpcclient, binary=True)
    result = client.infer("fraud", inputs, request_id="oip-grpc")
    assert result.as_numpy("fraud_probability").tolist() == pytest.approx(v1_scores(server), abs=1e-12)
    metrics = httpx.get(f"{server.url}/metrics").text
    assert any(line.startswith("shipyard_requests_total{") and 'protocol="grpc"' in line and 'code="200"' in line
               and float(line.split()[-1]) >= 1 for line in metrics.splitlines())


def test_grpc_bad_input_is_invalid_argument_naming_the_input(server):
    client = grpcclient.InferenceServerClient(server.grpc_url)
    tensor = grpcclient.InferInput("hour", [1], "INT64")
    tensor.set_data_from_numpy(np.array([99], dtype=np.int64))
    others = [grpcclient.InferInput(n, [1], t) for n, t in
              (("customer_id", "INT64"), ("amount", "FP64"), ("merchant_category", "BYTES"))]
    for other, value in zip(others, (np.array([1]), np.array([1.0]), np.array(["fuel"], dtype=object)), strict=True):
        other.set_data_from_numpy(value.astype(NUMPY[other.datatype()]))
    with pytest.raises(Exception, match="hour") as failure:
        client.infer("fraud", [*others, tensor])
    assert "INVALID_ARGUMENT" in str(failure.value)


def test_which_path_answered(server):
    """The fast path really answers JSON in fast mode (and never in KServe mode); binary input goes to KServe."""
    body = {"inputs": [{"name": k, "shape": [1], "datatype": t, "data": [ROWS[0][k]]} for k, t in
                       (("customer_id", "INT64"), ("amount", "FP64"), ("merchant_category", "BYTES"),
                        ("hour", "INT64"))]}
    response = httpx.post(f"{server.url}/v2/models/fraud/infer", json=body)
    assert response.status_code == 200, response.text
    assert (response.headers.get("x-shipyard-route") == "fast") == (server.mode == "fast")
