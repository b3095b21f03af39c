"""A regression served through the contract: `shipyard serve` for the delivery use case.

The model is the delivery champion the real training pipeline registered on small generated data
(tests/conftest.py). Metadata names delivery's request fields and its predicted label; v1 and v2
answer the same minutes for the same orders, on the fast path and on KServe's own data plane; the
prediction log holds each answer in its score column, beside the features it was computed from.
"""

from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from shipyard import registry
from shipyard_cli.processes import free_port
from tests.serving.conftest import start_serve
from tests.serving.platforms import UNKNOWN_CUSTOMER, copy_platform, logged_when
from usecases.delivery import USE_CASE

pytestmark = pytest.mark.integration

V2_TYPES = {"restaurant_id": "INT64", "distance_km": "FP64", "basket_items": "INT64", "hour": "INT64"}
OUTPUT = "delivery_delivery_minutes"


def orders() -> list[dict]:
    """Five generated orders (known restaurants) and one from a restaurant the store has never seen."""
    events = USE_CASE.generate(5, 3, None)
    rows = [{name: events[name].iloc[i].item() for name in V2_TYPES} for i in range(len(events))]
    return [*rows, {**rows[0], "restaurant_id": UNKNOWN_CUSTOMER}]


@pytest.fixture(scope="module", params=["fast", "kserve"])
def delivery_server(request, trained_delivery_home, tmp_path_factory) -> Iterator[tuple[str, object]]:
    home = tmp_path_factory.mktemp(f"delivery-{request.param}") / "home"
    platform = copy_platform(trained_delivery_home, home)
    assert platform.env["SHIPYARD_USE_CASE"] == "delivery"
    port = free_port()
    args = [] if request.param == "fast" else ["--no-fast-path"]
    process, url = start_serve(platform, home / "serve.log", *args, port=port,
                               ready_url=f"http://127.0.0.1:{port}/v2/models/delivery/ready")
    try:
        yield url, platform
    finally:
        process.stop()


def test_metadata_lists_deliverys_inputs_and_predicted_label(delivery_server):
    url, _ = delivery_server
    model = httpx.get(f"{url}/v2/models/delivery", timeout=10).json()
    assert model["name"] == "delivery" and model["versions"] == ["1"]
    assert model["inputs"] == [{"name": name, "datatype": kind, "shape": [-1]} for name, kind in V2_TYPES.items()]
    assert model["outputs"] == [{"name": OUTPUT, "datatype": "FP64", "shape": [-1]}] == [
        {"name": USE_CASE.output_name, "datatype": "FP64", "shape": [-1]}]
    server = httpx.get(f"{url}/v2", timeout=10).json()
    assert server["name"] and "fraud" not in str(server) and "probability" not in str(model)


def test_v1_and_v2_answer_the_same_minutes_and_the_log_holds_them(delivery_server, trained_delivery_home):
    url, platform = delivery_server
    rows = orders()
    v1 = httpx.post(f"{url}/v1/models/delivery:predict", json={"instances": rows}, timeout=10,
                    headers={"x-request-id": "delivery-v1"})
    assert v1.status_code == 200, v1.text
    assert v1.json()["model_name"] == "delivery" and v1.headers["model-version"] == "1"
    minutes = v1.json()["predictions"]
    body = {"id": "delivery-v2", "inputs": [{"name": name, "shape": [len(rows)], "datatype": kind,
                                             "data": [r[name] for r in rows]} for name, kind in V2_TYPES.items()]}
    v2 = httpx.post(f"{url}/v2/models/delivery/infer", json=body, timeout=10)
    assert v2.status_code == 200, v2.text
    [output] = v2.json()["outputs"]
    assert output["name"] == OUTPUT and output["datatype"] == "FP64" and output["shape"] == [len(rows)]
    assert output["data"] == pytest.approx(minutes, abs=1e-9)
    assert all(5.0 < m < 180.0 for m in minutes), minutes  # minutes, not a probability
    assert len(set(minutes)) > 1

    log = logged_when(platform.settings.prediction_log_dir,
                      lambda log: log["request_id"].isin(["delivery-v1", "delivery-v2"]).sum() >= 2 * len(rows))
    for request_id in ("delivery-v1", "delivery-v2"):
        logged = log[log["request_id"] == request_id]
        assert logged["score"].tolist() == pytest.approx(minutes, abs=1e-9)
        assert logged["restaurant_id"].tolist() == [r["restaurant_id"] for r in rows]
        assert logged["features_missing"].tolist() == [False] * (len(rows) - 1) + [True]
    # The logged features, scored by the registered regressor itself, give the served minutes.
    model = registry.load_sklearn_model(trained_delivery_home, "delivery", 1)
    columns = registry.input_columns(trained_delivery_home, "delivery", 1)
    logged = log[log["request_id"] == "delivery-v1"]
    expected = model.predict(logged[columns].astype(float))
    np.testing.assert_allclose(logged["score"].to_numpy(dtype=float), expected, rtol=1e-6, atol=0)
    # The score histogram's buckets are values in the label's unit, not probabilities.
    metrics = httpx.get(f"{url}/metrics", timeout=10).text
    buckets = {line.split('le="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
               if line.startswith("shipyard_prediction_score_bucket{") and 'model="delivery"' in line}
    assert "50.0" in buckets and "0.95" not in buckets, sorted(buckets)
    assert buckets["2.0"] == 0 and buckets["200.0"] == buckets["+Inf"] >= 2 * len(rows), buckets


def test_the_regressor_is_served_by_onnx_runtime(delivery_server):
    url, platform = delivery_server
    text = (platform.settings.home / "serve.log").read_text()
    assert "serving delivery version 1 with onnx" in text, text[-2000:]
