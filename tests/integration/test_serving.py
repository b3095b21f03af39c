import httpx
import pytest

from components.serving.prediction_log import read_prediction_log

pytestmark = pytest.mark.integration

GOOD = {"customer_id": 17, "amount": 42.5, "merchant_category": "grocery", "hour": 13}


def predict(predictor, body, **kwargs) -> httpx.Response:
    return httpx.post(f"{predictor.url}/v1/models/fraud:predict", json=body, timeout=10, **kwargs)


def test_v1_request_gets_a_probability_per_instance_and_the_model_version(predictor):
    response = predict(predictor, {"instances": [GOOD, {**GOOD, "customer_id": 18, "amount": 900.0}]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_name"] == "fraud"
    assert response.headers["model-version"] == body["model_version"] == "1"
    assert len(body["predictions"]) == 2
    assert all(0.0 <= p <= 1.0 for p in body["predictions"])
    assert body["predictions"][0] != body["predictions"][1]


@pytest.mark.parametrize("body, message", [
    ({"instances": [{**GOOD, "amount": "lots"}]}, "'amount' must be a number"),
    ({"instances": [{k: v for k, v in GOOD.items() if k != "hour"}]}, "missing field 'hour'"),
    ({"instances": []}, "non-empty"),
    ({"rows": [GOOD]}, '"instances"'),
])
def test_malformed_payloads_get_400_with_a_json_error(predictor, body, message):
    response = predict(predictor, body)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_broken_json_and_missing_content_type_are_handled(predictor):
    url = f"{predictor.url}/v1/models/fraud:predict"
    broken = httpx.post(url, content=b'{"instances": [', headers={"content-type": "application/json"})
    assert broken.status_code == 400 and "error" in broken.json()
    plain = httpx.post(url, content=b'{"instances": [{"customer_id": 5, "amount": 1.0, "merchant_category": '
                       b'"fuel", "hour": 3}]}', headers={"content-type": "text/plain"})
    assert plain.status_code == 200, plain.text


def test_prediction_log_holds_exactly_the_answered_instances(predictor):
    before = len(read_prediction_log(predictor.prediction_log_dir))
    answered = 0
    for i in range(5):
        assert predict(predictor, {"instances": [{**GOOD, "customer_id": 100 + i}]}).status_code == 200
        answered += 1
    assert predict(predictor, {"instances": [{**GOOD, "hour": 99}]}).status_code == 400
    log = read_prediction_log(predictor.prediction_log_dir)
    assert len(log) == before + answered
    newest = log.tail(answered)
    assert newest["customer_id"].tolist() == [100 + i for i in range(5)]
    assert {"request_id", "timestamp", "model_version", "score", "txn_count_7d", "features_missing"} <= set(log)


def test_unknown_customer_is_scored_with_no_history_and_counted(predictor):
    response = predict(predictor, {"instances": [{**GOOD, "customer_id": 987_654_321}]})
    assert response.status_code == 200
    last = read_prediction_log(predictor.prediction_log_dir).iloc[-1]
    assert bool(last["features_missing"]) and last["txn_count_7d"] == 0.0
    metrics = httpx.get(f"{predictor.url}/metrics").text
    assert 'shipyard_missing_features_total{feature_service="fraud_model_v1",model="fraud",version="1"}' in metrics


def test_metrics_endpoint_exports_serving_metrics(predictor):
    predict(predictor, {"instances": [GOOD]})
    metrics = httpx.get(f"{predictor.url}/metrics").text
    for name in ("shipyard_requests_total", "shipyard_request_duration_seconds_bucket",
                 "shipyard_feature_lookup_duration_seconds_bucket", "shipyard_prediction_score_bucket"):
        assert name in metrics
    assert 'shipyard_model_info{feature_service="fraud_model_v1",model="fraud",version="1"} 1.0' in metrics
    assert 'code="400"' in metrics and 'code="200"' in metrics
