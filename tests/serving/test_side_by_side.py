"""Two use cases served side by side on one machine under one Prometheus: two real predictors (the
classifier and the regression, each trained by the real pipeline), every series they export carries
its model label, and the two models' series never mix."""

from __future__ import annotations

import shutil

import httpx
import pytest
import yaml

from shipyard.usecase import load_use_case
from shipyard_cli.alert_stack import PROMETHEUS_CONFIG, render_prometheus_config
from shipyard_cli.processes import ServerProcess, free_port, http_ok, poll, start_predictor
from tests.conftest import fail_in_ci_else_skip

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # two trained platforms: `make test-slow`

REQUESTS = 25


def test_two_predictors_under_one_prometheus_keep_their_series_apart(trained_home, trained_delivery_home, tmp_path):
    binary = shutil.which("prometheus")
    if binary is None:
        fail_in_ci_else_skip("prometheus not found: run `make prometheus-tools`")
    predictors, ports = [], {}
    try:
        for settings in (trained_home, trained_delivery_home):
            use_case = load_use_case(settings.use_case)
            port = ports[use_case.model_name] = free_port()
            # Each predictor its own prediction log: the trained homes are shared with other tests.
            predictors.append(start_predictor(port, tmp_path / f"{use_case.name}.log", {
                "SHIPYARD_HOME": str(settings.home), "SHIPYARD_USE_CASE": use_case.name,
                "SHIPYARD_PREDICTION_LOG_DIR": str(tmp_path / f"log-{use_case.name}")}))
            fields = [f.name for f in use_case.request_fields]
            instances = use_case.generate(REQUESTS, 3, "normal")[fields].to_dict("records")
            with httpx.Client(timeout=10) as client:
                for instance in instances:
                    answer = client.post(f"http://127.0.0.1:{port}/v1/models/{use_case.model_name}:predict",
                                         json={"instances": [instance]})
                    assert answer.status_code == 200, answer.text

        config = render_prometheus_config(yaml.safe_load(PROMETHEUS_CONFIG.read_text()), monitor=[],
                                          alertmanager=free_port(), predictor=list(ports.values()),
                                          rules_file="rules.yaml")
        config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        shutil.copy(PROMETHEUS_CONFIG.parent / "rules.yaml", tmp_path / "rules.yaml")
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        web = free_port()
        prometheus = ServerProcess([f"--config.file={tmp_path / 'prometheus.yml'}",
                                    f"--storage.tsdb.path={tmp_path / 'data'}",
                                    f"--web.listen-address=127.0.0.1:{web}"], tmp_path / "prometheus.log",
                                   program=[binary])
        predictors.append(prometheus)

        def query(expr: str) -> list[dict]:
            answer = httpx.get(f"http://127.0.0.1:{web}/api/v1/query", params={"query": expr}, timeout=5)
            return answer.json()["data"]["result"]

        prometheus.start().wait_until(http_ok(f"http://127.0.0.1:{web}/-/ready"), timeout=30)
        poll(lambda: len(query('up{job="shipyard-predictor"} == 1')) == 2, 30, "both predictors scraped",
             interval=0.5)
        answered = {r["metric"]["model"]: float(r["value"][1])
                    for r in query('sum by (model) (shipyard_requests_total{code="200"})')}
        assert answered == {"fraud": REQUESTS, "delivery": REQUESTS}
        # Each predictor's series carry its own model and no other: the instance tells them apart.
        by_target = {(r["metric"]["instance"], r["metric"]["model"])
                     for r in query('count by (instance, model) ({job="shipyard-predictor", __name__=~"shipyard_.+"})')}
        assert by_target == {(f"127.0.0.1:{port}", model) for model, port in ports.items()}
        unlabelled = query('count by (__name__) ({job="shipyard-predictor", __name__=~"shipyard_.+", model=""})')
        assert unlabelled == [], [r["metric"]["__name__"] for r in unlabelled]
        # A probability and a number of minutes in one histogram name, apart by model: the regression's
        # scores are well above 1, the classifier's never.
        means = {r["metric"]["model"]: float(r["value"][1]) for r in query(
            "sum by (model) (shipyard_prediction_score_sum) / sum by (model) (shipyard_prediction_score_count)")}
        assert 0.0 <= means["fraud"] <= 1.0 < 5.0 < means["delivery"], means
    finally:
        for process in reversed(predictors):
            process.stop()
