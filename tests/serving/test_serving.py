"""v1 and v2 (Open Inference Protocol) against real predictor processes, on SQLite and on Redis."""

import json

import httpx
import pytest

from components.serving.requests import MAX_BODY_BYTES
from tests.serving.platforms import STALE_CUSTOMER, UNKNOWN_CUSTOMER, logged_when

pytestmark = pytest.mark.integration

GOOD = {"customer_id": 17, "amount": 42.5, "merchant_category": "grocery", "hour": 13}
V2_TYPES = {"customer_id": "INT64", "amount": "FP64", "merchant_category": "BYTES", "hour": "INT32"}


def v2_body(rows: list[dict], **overrides) -> dict:
    inputs = [{"name": name, "shape": [len(rows)], "datatype": V2_TYPES[name], "data": [r[name] for r in rows]}
              for name in V2_TYPES]
    for tensor in inputs:
        tensor.update(overrides.get(tensor["name"], {}))
    return {"inputs": inputs}


def predict(predictor, body, **kwargs) -> httpx.Response:
    return httpx.post(f"{predictor.url}/v1/models/fraud:predict", json=body, timeout=10, **kwargs)


def infer(predictor, body, **kwargs) -> httpx.Response:
    return httpx.post(f"{predictor.url}/v2/models/fraud/infer", json=body, timeout=10, **kwargs)


def test_v1_request_gets_a_probability_per_instance_and_the_model_version(any_predictor):
    response = predict(any_predictor, {"instances": [GOOD, {**GOOD, "customer_id": 18, "amount": 900.0}]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_name"] == "fraud"
    assert response.headers["model-version"] == body["model_version"] == "1"
    assert len(body["predictions"]) == 2
    assert all(0.0 <= p <= 1.0 for p in body["predictions"])
    assert body["predictions"][0] != body["predictions"][1]


def test_v2_request_gets_the_same_probabilities_as_v1(any_predictor):
    rows = [GOOD, {**GOOD, "customer_id": 18, "amount": 900.0, "merchant_category": "travel"}]
    v1 = predict(any_predictor, {"instances": rows}).json()["predictions"]
    response = infer(any_predictor, {"id": "req-v2", **v2_body(rows)})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == "req-v2" and body["model_version"] == "1"
    assert response.headers["model-version"] == "1"
    [output] = body["outputs"]
    assert output["name"] == "fraud_probability" and output["datatype"] == "FP64"
    assert output["shape"] == [2] and output["data"] == pytest.approx(v1, abs=1e-12)
    logged = logged_when(any_predictor.prediction_log_dir, lambda log: (log["request_id"] == "req-v2").sum() >= 2)
    assert logged[logged["request_id"] == "req-v2"]["protocol"].tolist() == ["v2", "v2"]


def test_health_and_readiness_follow_the_open_inference_protocol(any_predictor):
    for path in ("/v2/health/live", "/v2/health/ready", "/v2/models/fraud/ready"):
        assert httpx.get(f"{any_predictor.url}{path}").status_code == 200, path
    assert httpx.get(f"{any_predictor.url}/v2/models/fraud").json()["name"] == "fraud"


@pytest.mark.parametrize("body, message", [
    ({"instances": [{**GOOD, "amount": "lots"}]}, "'amount' must be a number"),
    ({"instances": [{k: v for k, v in GOOD.items() if k != "hour"}]}, "missing field 'hour'"),
    ({"instances": [{**GOOD, "hour": 99}]}, "'hour' must be <= 23"),
    ({"instances": []}, "non-empty"),
    ({"rows": [GOOD]}, '"instances"'),
])
def test_malformed_v1_payloads_get_400_with_a_json_error(sqlite_predictor, body, message):
    response = predict(sqlite_predictor, body)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_nan_and_infinity_in_raw_json_get_400_naming_the_field(sqlite_predictor):
    url = f"{sqlite_predictor.url}/v1/models/fraud:predict"
    for literal in (b"NaN", b"Infinity", b"-Infinity", b"1e999"):
        body = b'{"instances": [{"customer_id": 1, "amount": ' + literal + b', "merchant_category": "x", "hour": 1}]}'
        response = httpx.post(url, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 400, literal
        assert "field 'amount' must be finite" in response.json()["error"]


@pytest.mark.parametrize("body, message", [
    (v2_body([GOOD], amount={"data": ["lots"]}), "input 'amount'[0]: field 'amount' must be a number"),
    (v2_body([GOOD], hour={"datatype": "FP32"}), "input 'hour': datatype 'FP32'"),
    (v2_body([GOOD], amount={"shape": [2]}), "(ragged)"),
    (v2_body([GOOD], amount={"shape": [1, 3]}), "shape must be [n] or [n, 1]"),
    (v2_body([GOOD, GOOD], hour={"shape": [1], "data": [13]}), "different lengths"),
    ({"inputs": v2_body([GOOD])["inputs"][:3]}, "missing input 'hour'"),
    ({"inputs": [*v2_body([GOOD])["inputs"], {"name": "colour", "shape": [1], "datatype": "BYTES",
                                             "data": ["red"]}]}, "unknown input(s) 'colour'"),
    ({"instances": [GOOD]}, '"inputs"'),
])
def test_malformed_v2_payloads_get_400_naming_the_tensor(sqlite_predictor, body, message):
    response = infer(sqlite_predictor, body)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_v2_nan_and_infinity_get_400_naming_the_field(sqlite_predictor):
    for value in (float("nan"), float("inf")):
        body = json.dumps(v2_body([GOOD], amount={"datatype": "FP64", "data": [value]})).encode()
        response = httpx.post(f"{sqlite_predictor.url}/v2/models/fraud/infer", content=body,
                              headers={"content-type": "application/json"})
        assert response.status_code == 400
        assert "input 'amount'[0]: field 'amount' must be finite" in response.json()["error"]


@pytest.mark.parametrize("path", ["/v1/models/fraud:predict", "/v2/models/fraud/infer"])
def test_broken_json_and_oversized_bodies_get_4xx(sqlite_predictor, path):
    url = f"{sqlite_predictor.url}{path}"
    broken = httpx.post(url, content=b'{"instances": [', headers={"content-type": "application/json"})
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["error"]
    huge = httpx.post(url, content=b" " * (MAX_BODY_BYTES + 10), headers={"content-type": "application/json"})
    assert huge.status_code == 413 and "larger than 1048576 bytes" in huge.json()["error"]
    many = {"instances": [GOOD] * 1001} if path.startswith("/v1") else v2_body([GOOD] * 1001)
    assert httpx.post(url, json=many).status_code == 400


def test_json_without_content_type_is_scored(sqlite_predictor):
    plain = httpx.post(f"{sqlite_predictor.url}/v1/models/fraud:predict", headers={"content-type": "text/plain"},
                       content=b'{"instances": [{"customer_id": 5, "amount": 1.0, "merchant_category": "fuel", '
                               b'"hour": 3}]}')
    assert plain.status_code == 200, plain.text


def test_prediction_log_holds_answered_instances_once_each_and_failed_requests_flagged(any_predictor):
    for i in range(5):
        response = predict(any_predictor, {"instances": [{**GOOD, "customer_id": 100 + i}]},
                           headers={"x-request-id": f"exact-{i}"})
        assert response.status_code == 200
    assert predict(any_predictor, {"instances": [{**GOOD, "hour": 99}]},
                   headers={"x-request-id": "exact-bad-v1"}).status_code == 400
    assert infer(any_predictor, {"id": "exact-bad-v2", **v2_body([GOOD], hour={"data": [-1]})}).status_code == 400
    too_big = httpx.post(f"{any_predictor.url}/v1/models/fraud:predict", content=b"x" * (MAX_BODY_BYTES + 1),
                         headers={"x-request-id": "exact-too-big", "content-type": "application/json"}, timeout=10)
    assert too_big.status_code == 413
    log = logged_when(any_predictor.prediction_log_dir,
                      lambda log: log["request_id"].str.startswith("exact-").sum() >= 8)
    log = log[log["request_id"].str.startswith("exact-")]
    answered, failed = log[log["status"] == 200], log[log["status"] != 200]
    # Every answered instance once; every failed request once, flagged with its status and error.
    assert sorted(answered["request_id"]) == [f"exact-{i}" for i in range(5)]
    assert answered["customer_id"].tolist() == [100 + i for i in range(5)]
    assert answered["score"].notna().all() and answered["error"].isna().all()
    assert answered["model_version"].tolist() == [1] * 5
    assert dict(zip(failed["request_id"], failed["status"], strict=True)) == {
        "exact-bad-v1": 400, "exact-bad-v2": 400, "exact-too-big": 413}
    assert failed["score"].isna().all()  # no prediction, no features
    assert failed[["txn_count_7d", "avg_amount_7d", "max_amount_7d"]].isna().all().all()
    errors = dict(zip(failed["request_id"], failed["error"], strict=True))
    assert "hour" in errors["exact-bad-v1"] and "hour" in errors["exact-bad-v2"]
    assert set(failed["protocol"]) == {"v1", "v2"}
    expected = {"request_id", "timestamp", "status", "error", "model_version", "score", "customer_id", "amount",
                "merchant_category", "hour", "txn_count_7d", "avg_amount_7d", "max_amount_7d", "features_missing",
                "features_stale"}
    assert expected <= set(log)


def test_unknown_customer_is_scored_with_no_history_and_counted(any_predictor):
    response = predict(any_predictor, {"instances": [{**GOOD, "customer_id": UNKNOWN_CUSTOMER}]})
    assert response.status_code == 200
    log = logged_when(any_predictor.prediction_log_dir,
                      lambda log: (log["customer_id"] == UNKNOWN_CUSTOMER).any())
    last = log[log["customer_id"] == UNKNOWN_CUSTOMER].iloc[-1]
    assert bool(last["features_missing"]) and not bool(last["features_stale"])
    assert (last["txn_count_7d"], last["avg_amount_7d"], last["max_amount_7d"]) == (0.0, 0.0, 0.0)
    metrics = httpx.get(f"{any_predictor.url}/metrics").text
    assert 'shipyard_missing_features_total{feature_service="fraud_model_v1",model="fraud",version="1"}' in metrics


def test_stale_customer_is_scored_like_an_unknown_one_and_counted(any_predictor):
    stale = predict(any_predictor, {"instances": [{**GOOD, "customer_id": STALE_CUSTOMER}]}).json()["predictions"]
    unknown = predict(any_predictor, {"instances": [{**GOOD, "customer_id": UNKNOWN_CUSTOMER}]}).json()["predictions"]
    assert stale == unknown
    log = logged_when(any_predictor.prediction_log_dir, lambda log: (log["customer_id"] == STALE_CUSTOMER).any())
    row = log[log["customer_id"] == STALE_CUSTOMER].iloc[-1]
    assert bool(row["features_stale"]) and not bool(row["features_missing"])
    assert row["txn_count_7d"] == 0.0  # the stored 5 transactions are past the view's TTL
    fresh = log[log["customer_id"] == 17].iloc[-1]
    assert not bool(fresh["features_stale"]) and not bool(fresh["features_missing"])
    metrics = httpx.get(f"{any_predictor.url}/metrics").text
    assert 'shipyard_stale_features_total{feature_service="fraud_model_v1",model="fraud",version="1"} 1.0' in metrics


def test_metrics_endpoint_exports_serving_metrics(any_predictor):
    predict(any_predictor, {"instances": [GOOD]})
    metrics = httpx.get(f"{any_predictor.url}/metrics").text
    for name in ("shipyard_requests_total", "shipyard_request_duration_seconds_bucket",
                 "shipyard_feature_lookup_duration_seconds_bucket", "shipyard_prediction_score_bucket"):
        assert name in metrics
    store = "redis" if any_predictor.platform.settings.profile == "prod" else "sqlite"
    assert f'shipyard_feature_lookup_duration_seconds_count{{model="fraud",store="{store}",version="1"}}' in metrics
    assert 'shipyard_model_info{feature_service="fraud_model_v1",model="fraud",version="1"} 1.0' in metrics
    assert 'code="400"' in metrics and 'code="200"' in metrics


@pytest.fixture(scope="module")
def kserve_route_predictor(trained_home, tmp_path_factory):
    """A predictor with the fast path off: KServe's own routes answer, after the middleware's checks."""
    from tests.serving.conftest import start_serve
    from tests.serving.platforms import copy_platform

    home = tmp_path_factory.mktemp("kserve-route") / "home"
    platform = copy_platform(trained_home, home)
    process, url = start_serve(platform, home / "serve.log", "--no-fast-path")
    try:
        yield url, platform.settings.prediction_log_dir
    finally:
        process.stop()


def test_failed_requests_on_kserves_route_are_logged_as_failed(kserve_route_predictor):
    url, log_dir = kserve_route_predictor
    ok = httpx.post(f"{url}/v1/models/fraud:predict", json={"instances": [GOOD]}, headers={"x-request-id": "k-ok"})
    assert ok.status_code == 200, ok.text
    bad = httpx.post(f"{url}/v2/models/fraud/infer", json={"id": "k-bad-json", **v2_body([GOOD], hour={"data": [99]})})
    assert bad.status_code == 400
    # Binary tensor data goes to KServe's codec and the predictor (the middleware cannot check it); "hour"
    # is missing, so KServe's route answers the 400.
    header = json.dumps({"inputs": [
        {"name": "customer_id", "shape": [1], "datatype": "INT64", "parameters": {"binary_data_size": 8}},
        {"name": "amount", "shape": [1], "datatype": "FP64", "data": [42.5]},
        {"name": "merchant_category", "shape": [1], "datatype": "BYTES", "data": ["grocery"]}]}).encode()
    binary = httpx.post(f"{url}/v2/models/fraud/infer", content=header + (17).to_bytes(8, "little"),
                        headers={"inference-header-content-length": str(len(header)), "x-request-id": "k-binary",
                                 "content-type": "application/octet-stream"})
    assert 400 <= binary.status_code < 500, binary.text
    log = logged_when(log_dir, lambda log: log["request_id"].isin(["k-ok", "k-bad-json", "k-binary"]).sum() >= 3)
    rows = log[log["request_id"].str.startswith("k-")].set_index("request_id")
    assert sorted(rows.index) == ["k-bad-json", "k-binary", "k-ok"]  # each once
    assert rows.loc["k-ok", "status"] == 200 and rows.loc["k-ok", "score"] >= 0
    assert rows.loc["k-bad-json", "status"] == 400 and "hour" in rows.loc["k-bad-json", "error"]
    assert rows.loc["k-binary", "status"] == binary.status_code
    assert rows.loc["k-binary", "error"] == binary.json()["error"]
    assert rows.loc[["k-bad-json", "k-binary"], "score"].isna().all()
