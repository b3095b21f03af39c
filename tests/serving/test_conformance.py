"""The reference Open Inference Protocol client (tritonclient), and KServe's own clients, against a real
`shipyard serve`.

Every test runs twice: with the fast path in front of KServe, and with it off (KServe's own data
plane answers everything). Requests are built from the model metadata the server publishes, as an
OIP client that knows nothing about fraud would build them.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.http as httpclient
from kserve import InferenceGRPCClient, InferenceRESTClient
from kserve.inference_client import RESTConfig
from kserve.protocol.infer_type import InferInput, InferRequest
from tritonclient.utils import InferenceServerException

from shipyard_cli.processes import free_port
from tests.serving.conftest import grpc_session, start_serve
from tests.serving.platforms import copy_platform, logged_when

pytestmark = pytest.mark.integration
# tritonclient.grpc cannot share a process with KServe (both register the protobuf package
# ``inference``): its client runs in tests/serving/grpc_client.py, in a process of its own.

ROWS = [{"customer_id": 17, "amount": 42.5, "merchant_category": "grocery", "hour": 13},
        {"customer_id": 18, "amount": 900.0, "merchant_category": "travel", "hour": 2}]
NUMPY = {"INT64": np.int64, "INT32": np.int32, "FP64": np.float64, "FP32": np.float32, "BYTES": np.object_}


class Server:
    def __init__(self, url: str, grpc_url: str, mode: str, log_dir: Path | None = None):
        self.url, self.grpc_url, self.mode, self.log_dir = url, grpc_url, mode, log_dir
        self.http_host = url.removeprefix("http://")


@pytest.fixture(scope="module", params=["fast", "kserve"])
def server(request, trained_home, tmp_path_factory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp(f"oip-{request.param}") / "home"
    grpc_port = free_port()
    args = ["--grpc-port", str(grpc_port)] + ([] if request.param == "fast" else ["--no-fast-path"])
    platform = copy_platform(trained_home, home)
    process, url = start_serve(platform, home / "serve.log", *args)
    try:
        yield Server(url, f"127.0.0.1:{grpc_port}", request.param, platform.settings.prediction_log_dir)
    finally:
        process.stop()


def inputs_from_metadata(metadata_inputs: list[dict], binary: bool) -> list:
    """One tensor per input the server lists, in the datatype it asks for, filled from ROWS."""
    tensors = []
    for spec in metadata_inputs:
        assert spec["shape"] == [-1], spec
        values = np.array([row[spec["name"]] for row in ROWS], dtype=NUMPY[spec["datatype"]])
        tensor = httpclient.InferInput(spec["name"], [len(ROWS)], spec["datatype"])
        tensor.set_data_from_numpy(values, binary_data=binary)
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
    assert metadata["versions"] == ["1"]
    assert client.get_model_metadata("fraud", "1") == metadata


def test_liveness_and_readiness_over_http(server):
    client = httpclient.InferenceServerClient(server.http_host)
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("fraud")
    assert client.is_model_ready("fraud", "1")  # the served version
    assert not client.is_model_ready("fraud", "7")


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_http_infer_built_from_metadata_matches_v1(server, binary):
    client = httpclient.InferenceServerClient(server.http_host)
    inputs = inputs_from_metadata(client.get_model_metadata("fraud")["inputs"], binary)
    outputs = [httpclient.InferRequestedOutput("fraud_probability", binary_data=binary)]
    for requested in (None, outputs):  # no outputs named: tritonclient asks for binary output data
        result = client.infer("fraud", inputs, outputs=requested, request_id=f"oip-{binary}")
        scores = result.as_numpy("fraud_probability")
        assert scores.dtype == np.float64 and scores.shape == (2,)
        assert scores.tolist() == pytest.approx(v1_scores(server), abs=1e-12)
        assert result.get_response()["id"] == f"oip-{binary}"


def test_json_data_nested_by_shape_matches_flat(server):
    """The spec's "natural" form: an [n, 1] tensor's data as n one-element rows, answered like the flat form."""
    client = httpclient.InferenceServerClient(server.http_host)
    inputs = [{"name": spec["name"], "datatype": spec["datatype"], "shape": [len(ROWS), 1],
               "data": [[row[spec["name"]]] for row in ROWS]} for spec in client.get_model_metadata("fraud")["inputs"]]
    response = httpx.post(f"{server.url}/v2/models/fraud/infer", json={"inputs": inputs}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["data"] == pytest.approx(v1_scores(server), abs=1e-12)


def kserve_inputs(binary: bool) -> list[InferInput]:
    tensors = []
    for name, datatype in (("customer_id", "INT64"), ("amount", "FP64"), ("merchant_category", "BYTES"),
                           ("hour", "INT64")):
        tensor = InferInput(name, [len(ROWS)], datatype)
        tensor.set_data_from_numpy(np.array([row[name] for row in ROWS], dtype=NUMPY[datatype]), binary_data=binary)
        tensors.append(tensor)
    return tensors


def test_kserves_own_clients_rest_v1_v2_and_grpc(server):
    """KServe's Python clients (InferenceRESTClient v1 and v2, JSON and binary; InferenceGRPCClient)."""
    async def session() -> dict:
        v1, v2 = InferenceRESTClient(RESTConfig(protocol="v1")), InferenceRESTClient(RESTConfig(protocol="v2"))
        grpc = InferenceGRPCClient(server.grpc_url)
        try:
            answers = {"live": await v2.is_server_live(server.url), "ready": await v2.is_server_ready(server.url),
                       "model ready": await v1.is_model_ready(server.url, "fraud"),
                       "v1": (await v1.infer(server.url, {"instances": ROWS}, model_name="fraud"))["predictions"]}
            for binary in (False, True):
                request = InferRequest("fraud", kserve_inputs(binary), request_id="kserve-client")
                result = await v2.infer(server.url, request, model_name="fraud")
                answers[f"v2 binary={binary}"] = (result.id, result.outputs[0].as_numpy().tolist())
            result = await grpc.infer(InferRequest("fraud", kserve_inputs(False), request_id="kserve-grpc"))
            answers["grpc"] = (result.id, result.outputs[0].as_numpy().tolist())
            return answers
        finally:
            await v1.close()
            await v2.close()
            await grpc.close()

    answers = asyncio.run(session())
    scores = v1_scores(server)
    assert answers["live"] and answers["ready"] and answers["model ready"]
    assert answers["v1"] == pytest.approx(scores, abs=1e-12)
    for binary in (False, True):
        assert answers[f"v2 binary={binary}"][0] == "kserve-client"
        assert answers[f"v2 binary={binary}"][1] == pytest.approx(scores, abs=1e-12)
    assert answers["grpc"][0] == "kserve-grpc" and answers["grpc"][1] == pytest.approx(scores, abs=1e-12)


def test_grpc_readiness_metadata_and_infer_match_http(server):
    session = grpc_session(server.grpc_url, ROWS)
    assert session["live"] and session["ready"] and session["model_ready"]
    assert [i["name"] for i in session["metadata"]["inputs"]] == [
        "customer_id", "amount", "merchant_category", "hour"]
    assert [o["name"] for o in session["metadata"]["outputs"]] == ["fraud_probability"]
    assert session["scores"] == pytest.approx(v1_scores(server), abs=1e-12)
    assert session["id"] == "grpc-request"
    metrics = httpx.get(f"{server.url}/metrics").text
    assert any(line.startswith("shipyard_requests_total{") and 'protocol="grpc"' in line and 'code="200"' in line
               and float(line.split()[-1]) >= 1 for line in metrics.splitlines())


def test_grpc_infer_for_another_version_is_not_found_like_http(server):
    """KServe's gRPC server ignores the version a request names; the predictor answers it as HTTP does."""
    assert grpc_session(server.grpc_url, ROWS, version="1")["scores"] == pytest.approx(v1_scores(server), abs=1e-12)
    session = grpc_session(server.grpc_url, ROWS, version="7")
    assert session["status"] == "StatusCode.NOT_FOUND", session
    assert "version 7 is not served here; it serves version 1" in session["error"]
    http = httpx.post(f"{server.url}/v2/models/fraud/versions/7/infer", json={"inputs": []}, timeout=10)
    assert http.status_code == 404 and "version 7 is not served here" in http.json()["error"]


def test_an_unknown_output_is_refused_before_scoring_on_every_protocol(server):
    """KServe checks requested output names only when it writes a REST answer, after the request was
    scored and logged as answered, and ignores them over gRPC. The predictor refuses them first."""
    scores = grpc_session(server.grpc_url, ROWS, output="fraud_probability")["scores"]
    assert scores == pytest.approx(v1_scores(server), abs=1e-12)
    session = grpc_session(server.grpc_url, ROWS, output="fraud_score")
    assert session["status"] == "StatusCode.INVALID_ARGUMENT", session
    assert "unknown output(s) 'fraud_score'; the model's output is 'fraud_probability'" in session["error"]
    body = {"id": "unknown-output", "outputs": [{"name": "fraud_score"}],
            "inputs": [{"name": k, "shape": [1], "datatype": t, "data": [ROWS[0][k]]} for k, t in
                       (("customer_id", "INT64"), ("amount", "FP64"), ("merchant_category", "BYTES"),
                        ("hour", "INT64"))]}
    http = httpx.post(f"{server.url}/v2/models/fraud/infer", json=body, timeout=10)
    assert http.status_code == 400, http.text
    assert "unknown output(s) 'fraud_score'" in http.json()["error"]
    # One record for the request, the refusal: no score logged for an answer the client never got.
    log = logged_when(server.log_dir, lambda log: (log["request_id"] == "unknown-output").any())
    records = log[log["request_id"] == "unknown-output"]
    assert records["status"].tolist() == [400] and records["score"].isna().all(), records


def test_grpc_bad_input_is_invalid_argument_naming_the_field(server):
    session = grpc_session(server.grpc_url, [{**ROWS[0], "hour": 99}])
    assert session["status"] == "StatusCode.INVALID_ARGUMENT", session
    assert "'hour' must be <= 23" in session["error"]
    # The refused request is in the prediction log as a failed gRPC record, under the request's own id.
    def refused(log):  # this module's other gRPC refusals carry the client's request id too
        return log[(log["protocol"] == "grpc") & (log["status"] == 400)
                   & log["error"].fillna("").str.contains("'hour' must be <= 23", regex=False)]

    failed = refused(logged_when(server.log_dir, lambda log: len(refused(log)) > 0))
    assert failed["request_id"].tolist() == ["grpc-request"] and failed["score"].isna().all()


def test_which_path_answered(server):
    """The fast path answers JSON in fast mode (and never in KServe mode); binary input goes to KServe."""
    body = {"inputs": [{"name": k, "shape": [1], "datatype": t, "data": [ROWS[0][k]]} for k, t in
                       (("customer_id", "INT64"), ("amount", "FP64"), ("merchant_category", "BYTES"),
                        ("hour", "INT64"))]}
    response = httpx.post(f"{server.url}/v2/models/fraud/infer", json=body)
    assert response.status_code == 200, response.text
    assert (response.headers.get("x-shipyard-route") == "fast") == (server.mode == "fast")


def v2_tensors(row: dict) -> list[dict]:
    return [{"name": k, "shape": [1], "datatype": t, "data": [row[k]]} for k, t in
            (("customer_id", "INT64"), ("amount", "FP64"), ("merchant_category", "BYTES"), ("hour", "INT64"))]


def binary_request(request_id: str, bytes_element: bytes) -> tuple[bytes, dict]:
    """A binary-extension request for ROWS[0] whose merchant_category bytes are ``bytes_element``."""
    row = ROWS[0]
    parts = [("customer_id", "INT64", np.array([row["customer_id"]], "<i8").tobytes()),
             ("amount", "FP64", np.array([row["amount"]], "<f8").tobytes()),
             ("merchant_category", "BYTES", bytes_element),
             ("hour", "INT64", np.array([row["hour"]], "<i8").tobytes())]
    header = json.dumps({"id": request_id, "inputs": [
        {"name": n, "datatype": t, "shape": [1], "parameters": {"binary_data_size": len(d)}} for n, t, d in parts]})
    return header.encode() + b"".join(d for *_, d in parts), {"inference-header-content-length": str(len(header))}


@pytest.mark.parametrize("element, message", [
    (struct.pack("<I", 100) + b"grocery", "input 'merchant_category': BYTES element 0 says 100 bytes but 7 are left"),
    (b"\x07\x00", "input 'merchant_category': BYTES element 0 has a cut-off length prefix"),
    (struct.pack("<I", 2) + b"\xff\xfe", "input 'merchant_category': BYTES element 0 is not UTF-8 text"),
], ids=["prefix-too-long", "prefix-cut-off", "not-utf8"])
def test_broken_binary_framing_is_a_400_naming_the_input(server, element, message):
    """KServe's decoder fails on these with a 500; the framing check answers first, on both paths, and
    records the refusal under the request's own "id" (from the JSON part of the body)."""
    request_id = f"broken-binary-{zlib.crc32(element)}"
    body, headers = binary_request(request_id, element)
    response = httpx.post(f"{server.url}/v2/models/fraud/infer", content=body, headers=headers, timeout=10)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == message
    log = logged_when(server.log_dir, lambda log: (log["request_id"] == request_id).any())
    assert log.loc[log["request_id"] == request_id, "status"].tolist() == [400]
    good, headers = binary_request("good-binary", struct.pack("<I", 7) + b"grocery")
    response = httpx.post(f"{server.url}/v2/models/fraud/infer", content=good, headers=headers, timeout=10)
    assert response.status_code == 200 and response.json()["id"] == "good-binary", response.text


def test_a_v2_answer_carries_the_requests_own_id_the_log_the_header_id(server):
    """The spec: a request's "id" is returned in its response. x-request-id (tracing) names the log record."""
    for path, kind in (("/v2/models/fraud/infer", "json"), ("/v2/models/fraud/infer", "binary")):
        own = f"own-id-{kind}"
        if kind == "json":
            response = httpx.post(f"{server.url}{path}", json={"id": own, "inputs": v2_tensors(ROWS[0])},
                                  headers={"x-request-id": f"trace-{kind}"}, timeout=10)
        else:
            body, headers = binary_request(own, struct.pack("<I", 7) + b"grocery")
            response = httpx.post(f"{server.url}{path}", content=body,
                                  headers={**headers, "x-request-id": f"trace-{kind}"}, timeout=10)
        assert response.status_code == 200, response.text
        assert response.json()["id"] == own
    log = logged_when(server.log_dir, lambda log: log["request_id"].isin(["trace-json", "trace-binary"]).sum() == 2)
    assert sorted(log.loc[log["request_id"].str.startswith("trace-"), "status"]) == [200, 200]


@pytest.mark.parametrize("change, status, answer", [
    ({"parameters": [1]}, 400, "parameters"),
    ({"parameters": {"nested": {"a": 1}}}, 400, "parameters"),
    ({"parameters": {"binary_data_output": "true"}}, 400, "binary_data_output must be true or false"),
    ({"outputs": [{"name": "fraud_probability", "parameters": {"binary_data": "yes"}}]}, 400,
     "binary_data must be true or false"),
    ({"amount_datatype": "FP16"}, 400, "FP16"),
    ({"parameters": {"binary_data_output": True}, "outputs": [{"name": "fraud_probability"}]}, 200, "binary"),
], ids=["parameters-list", "parameters-nested", "flag-string", "output-flag-string", "fp16-json",
        "request-binary-default"])
def test_both_paths_answer_alike_where_kserve_is_strict(server, change, status, answer):
    """What KServe's route refuses, the fast path leaves to it; binary_data_output is every named output's
    default (the binary extension), on KServe's route too."""
    body = {"inputs": v2_tensors(ROWS[0]), **{k: v for k, v in change.items() if k != "amount_datatype"}}
    if "amount_datatype" in change:
        body["inputs"][1]["datatype"] = change["amount_datatype"]
    response = httpx.post(f"{server.url}/v2/models/fraud/infer", json=body, timeout=10)
    assert response.status_code == status, response.text
    if status == 200:
        assert "inference-header-content-length" in response.headers
    else:
        assert answer in response.json()["error"]


def test_wrong_methods_explain_and_other_versions_answer_4xx_and_count(server):
    def counted(code: int) -> float:
        return sum(float(line.split()[-1]) for line in httpx.get(f"{server.url}/metrics").text.splitlines()
                   if line.startswith("shipyard_requests_total{") and f'code="{code}"' in line)

    wrong_methods = counted(405)
    get = httpx.get(f"{server.url}/v1/models/fraud:predict", timeout=10)
    assert get.status_code == 405 and get.headers["allow"] == "POST" and "takes POST" in get.json()["error"]
    assert httpx.put(f"{server.url}/v2/models/fraud/infer", timeout=10).status_code == 405
    assert counted(405) == wrong_methods + 2
    explain = httpx.post(f"{server.url}/v1/models/fraud:explain", json={"instances": ROWS}, timeout=10)
    assert explain.status_code == 404 and "has no explainer" in explain.json()["error"]

    def not_found() -> float:
        return counted(404)

    before = not_found()
    other = httpx.post(f"{server.url}/v2/models/fraud/versions/9/infer", json={"inputs": v2_tensors(ROWS[0])},
                       headers={"x-request-id": "other-version"}, timeout=10)
    assert other.status_code == 404 and "version 9 is not served" in other.json()["error"]
    assert not_found() == before + 1
    log = logged_when(server.log_dir, lambda log: (log["request_id"] == "other-version").any())
    assert log.loc[log["request_id"] == "other-version", "status"].tolist() == [404]


def test_grpc_raw_bytes_with_a_broken_length_prefix_is_invalid_argument(server):
    """KServe's raw BYTES decoder raises struct.error; the predictor names the input, and logs the refusal
    under the request's own id."""
    import grpc
    from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
    from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc as pb_grpc

    row = ROWS[0]
    names = (("customer_id", "INT64"), ("amount", "FP64"), ("merchant_category", "BYTES"), ("hour", "INT64"))
    request = pb.ModelInferRequest(model_name="fraud", id="raw-broken", inputs=[
        pb.ModelInferRequest.InferInputTensor(name=n, datatype=t, shape=[1]) for n, t in names])
    request.raw_input_contents.extend([np.array([row["customer_id"]], "<i8").tobytes(),
                                       np.array([row["amount"]], "<f8").tobytes(), b"\x07\x00",
                                       np.array([row["hour"]], "<i8").tobytes()])
    with grpc.insecure_channel(server.grpc_url) as channel:
        with pytest.raises(grpc.RpcError) as failure:
            pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, timeout=10)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT, failure.value.details()
    assert "input 'merchant_category'" in failure.value.details()
    log = logged_when(server.log_dir, lambda log: (log["request_id"] == "raw-broken").any())
    assert log.loc[log["request_id"] == "raw-broken", "status"].tolist() == [400]


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
def test_tritonclient_request_compression(server, algorithm):
    """tritonclient compresses request bodies on request (Triton accepts gzip and deflate); KServe would
    read the compressed bytes as the request."""
    client = httpclient.InferenceServerClient(server.http_host)
    for binary in (False, True):
        inputs = inputs_from_metadata(client.get_model_metadata("fraud")["inputs"], binary)
        result = client.infer("fraud", inputs, request_id=f"compressed-{algorithm}-{binary}",
                              request_compression_algorithm=algorithm)
        assert result.as_numpy("fraud_probability").tolist() == pytest.approx(v1_scores(server), abs=1e-12)


@pytest.mark.parametrize("encoding, body, status, message", [
    ("gzip", b"not gzip at all", 400, "not valid gzip data"),
    ("gzip", gzip.compress(b'{"instances": []}')[:-12], 400, "ends before the stream does"),
    ("br", b"whatever", 415, "Content-Encoding 'br' is not supported"),
    ("gzip", gzip.compress(b" " * (2 << 20)), 413, "larger than 1048576 bytes once inflated"),
    ("gzip", gzip.compress(b'{"instances": []}') + b"junk", 400, "not valid gzip data"),
    ("deflate", zlib.compress(b'{"instances": []}') + b"junk", 400, "has 4 bytes after its deflate stream"),
    ("gzip", gzip.compress(b'{"instances": ') + gzip.compress(b"[]}"), 400, '"instances" must be non-empty'),
], ids=["corrupt", "truncated", "unsupported", "inflates-past-the-limit", "junk-after-gzip", "junk-after-deflate",
        "two-gzip-members-are-one-body"])
def test_a_body_that_does_not_inflate_is_refused(server, encoding, body, status, message):
    response = httpx.post(f"{server.url}/v1/models/fraud:predict", content=body, timeout=10,
                          headers={"content-encoding": encoding, "content-type": "application/json"})
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


def test_the_classification_extension_is_refused_not_ignored(server):
    """tritonclient's class_count asks for "score:index" strings; answering the raw scores instead would be
    misread, so it is a 400 (gRPC: INVALID_ARGUMENT) naming it."""
    import grpc
    from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
    from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc as pb_grpc

    client = httpclient.InferenceServerClient(server.http_host)
    for binary in (False, True):
        inputs = inputs_from_metadata(client.get_model_metadata("fraud")["inputs"], binary)
        with pytest.raises(InferenceServerException) as failure:
            client.infer("fraud", inputs, outputs=[httpclient.InferRequestedOutput("fraud_probability",
                                                                                    class_count=1)])
        assert failure.value.status() == "400" and "class_count" in failure.value.message()
    row = ROWS[0]
    contents = {"customer_id": pb.InferTensorContents(int64_contents=[row["customer_id"]]),
                "amount": pb.InferTensorContents(fp64_contents=[row["amount"]]),
                "merchant_category": pb.InferTensorContents(bytes_contents=[row["merchant_category"].encode()]),
                "hour": pb.InferTensorContents(int64_contents=[row["hour"]])}
    request = pb.ModelInferRequest(model_name="fraud", inputs=[
        pb.ModelInferRequest.InferInputTensor(name=t["name"], datatype=t["datatype"], shape=[1],
                                              contents=contents[t["name"]]) for t in v2_tensors(row)])
    requested = request.outputs.add(name="fraud_probability")
    requested.parameters["classification"].int64_param = 1
    with grpc.insecure_channel(server.grpc_url) as channel:
        with pytest.raises(grpc.RpcError) as failure:
            pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, timeout=10)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "class_count" in failure.value.details()
