"""Two use cases side by side on one monitoring stack: Prometheus scrapes every predictor and monitor
(their series told apart by the model label only), and Alertmanager sends each model's drift and
quality alerts to the monitor that serves that model, never to the other one."""

from __future__ import annotations

import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import yaml

from shipyard_cli.alert_stack import (
    ALERTMANAGER_CONFIG,
    PROMETHEUS_CONFIG,
    render_alertmanager_config,
    render_prometheus_config,
)
from shipyard_cli.processes import ServerProcess, free_port, http_ok, poll
from tests.conftest import fail_in_ci_else_skip

pytestmark = pytest.mark.unit

MODELS = {"fraud": 19108, "eta": 29108}  # model -> its monitor's port


def test_prometheus_config_lists_every_predictor_and_monitor():
    config = render_prometheus_config(yaml.safe_load(PROMETHEUS_CONFIG.read_text()), monitor=[9108, 9109],
                                      alertmanager=9093, predictor=[8080, 8081], rules_file="rules.yaml")
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
    assert targets == {"shipyard-predictor": ["127.0.0.1:8080", "127.0.0.1:8081"],
                       "shipyard-monitor": ["127.0.0.1:9108", "127.0.0.1:9109"]}
    one = render_prometheus_config(yaml.safe_load(PROMETHEUS_CONFIG.read_text()), monitor=9108,
                                   alertmanager=9093, predictor=None, rules_file="rules.yaml")
    assert [job["job_name"] for job in one["scrape_configs"]] == ["shipyard-monitor"]


@pytest.fixture(scope="module")
def per_model_config(tmp_path_factory):
    folder = tmp_path_factory.mktemp("alertmanager")
    rendered = render_alertmanager_config(yaml.safe_load(ALERTMANAGER_CONFIG.read_text()), monitor=MODELS,
                                          token_file=folder / "token")
    path = folder / "alertmanager.yml"
    path.write_text(yaml.safe_dump(rendered, sort_keys=False))
    return path, rendered


def test_per_model_alertmanager_config_is_valid(amtool, per_model_config):
    path, rendered = per_model_config
    result = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    urls = {r["name"]: r["webhook_configs"][0]["url"] for r in rendered["receivers"] if r.get("webhook_configs")}
    assert urls == {f"shipyard-monitor-{m}": f"http://127.0.0.1:{p}/hooks/alertmanager" for m, p in MODELS.items()}


@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("alert, category, expected", [
    ("ShipyardDatasetDriftHigh", "drift", "shipyard-monitor-{model}"),
    ("ShipyardModelRocAucLow", "quality", "shipyard-monitor-{model}"),
    ("ShipyardHighErrorRate", "serving", "default"),
])
def test_each_models_alerts_reach_only_its_own_monitor(amtool, per_model_config, model, alert, category, expected):
    path, _ = per_model_config
    labels = {"alertname": alert, "category": category, "severity": "warning", "team": "ml", "model": model}
    result = subprocess.run([amtool, "config", "routes", "test", f"--config.file={path}",
                             f"--verify.receivers={expected.format(model=model)}",
                             *(f"{k}={v}" for k, v in labels.items())], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _exporter(text: str) -> ThreadingHTTPServer:
    class Metrics(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            body = text.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_prometheus_scrapes_two_predictors_and_two_monitors_apart(tmp_path):
    """Real Prometheus, the rendered config, two predictors and two monitors exporting model-labelled
    series: every target is up, series stay per model, and the per-model absent check names the model
    whose monitor has no result although the other model's monitor has."""
    binary = shutil.which("prometheus")
    if binary is None:
        fail_in_ci_else_skip("prometheus not found: run `make prometheus-tools`")
    exporters = [
        _exporter('shipyard_model_info{model="fraud",version="3",feature_service="fraud_model_v1"} 1\n'),
        _exporter('shipyard_model_info{model="eta",version="1",feature_service="eta_model_v1"} 1\n'),
        _exporter('shipyard_drift_last_success_timestamp_seconds{model="fraud",version="3"} 1.7e9\n'),
        _exporter('shipyard_drift_runs_total{model="eta",version="1",status="error"} 4\n'),
    ]
    ports = [e.server_address[1] for e in exporters]
    config = render_prometheus_config(yaml.safe_load(PROMETHEUS_CONFIG.read_text()), monitor=ports[2:],
                                      alertmanager=free_port(), predictor=ports[:2], rules_file="rules.yaml")
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    shutil.copy(PROMETHEUS_CONFIG.parent / "rules.yaml", tmp_path / "rules.yaml")
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    args = [f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}"]
    prometheus = ServerProcess(args, tmp_path / "prometheus.log", program=[binary])

    def query(expr: str) -> list[dict]:
        answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": expr}, timeout=5)
        return answer.json()["data"]["result"]

    try:
        prometheus.start().wait_until(http_ok(f"http://127.0.0.1:{port}/-/ready"), timeout=30)
        poll(lambda: len(query("up == 1")) == 4 and len(query("shipyard_drift_runs_total")) == 1, 30,
             "every target scraped", interval=0.5)
        assert {r["metric"]["model"] for r in query("shipyard_model_info")} == {"fraud", "eta"}
        assert {r["metric"]["job"] for r in query("up")} == {"shipyard-predictor", "shipyard-monitor"}
        rules = yaml.safe_load((tmp_path / "rules.yaml").read_text())
        [absent] = [r["expr"] for g in rules["groups"] for r in g["rules"]
                    if r.get("alert") == "ShipyardDriftJobAbsent"]
        assert [r["metric"].get("model") for r in query(absent)] == ["eta"]
    finally:
        prometheus.stop()
        for exporter in exporters:
            exporter.shutdown()
            exporter.server_close()


def test_one_monitor_keeps_the_projects_routes_and_receiver(tmp_path):
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    rendered = render_alertmanager_config(config, monitor=9200, token_file=tmp_path / "token")
    assert rendered["route"] == config["route"]
    [hook] = next(r for r in rendered["receivers"] if r["name"] == "shipyard-monitor")["webhook_configs"]
    assert hook["url"] == "http://127.0.0.1:9200/hooks/alertmanager"
    assert [r["name"] for r in rendered["receivers"]] == [r["name"] for r in config["receivers"]]
