"""A local monitoring stack on loopback: Prometheus, Alertmanager and the Shipyard monitor.

The project's own configs (monitoring/prometheus/, monitoring/alertmanager/) are templated with
free ports into a work directory; Prometheus and Alertmanager are the Debian binaries on PATH,
each with its own data directory. The demo and the live tests use the same code, and stop every
process they start.

Use cases run side by side: the stack scrapes any number of predictors and monitors (every series
carries its ``model`` label), and Alertmanager sends each model's drift and quality alerts to that
model's monitor (one route per model), as a monitor retrains only the model it serves.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from shipyard.settings import PROJECT_ROOT, Settings
from shipyard_cli.processes import ServerProcess, free_port, http_ok

MONITORING = PROJECT_ROOT / "monitoring"
PROMETHEUS_CONFIG = MONITORING / "prometheus" / "prometheus.yml"
RULES = MONITORING / "prometheus" / "rules.yaml"
ALERTMANAGER_CONFIG = MONITORING / "alertmanager" / "alertmanager.yml"
INSTALL_HINT = "install Debian's prometheus and prometheus-alertmanager (`make prometheus-tools`)"


class ToolMissing(RuntimeError):
    """A binary the stack needs is not on PATH."""


def find_tool(*names: str) -> str:
    for name in names:
        if path := shutil.which(name):
            return path
    raise ToolMissing(f"none of {', '.join(names)} is on PATH: {INSTALL_HINT}")


def _ports(value: int | Sequence[int] | None) -> list[int]:
    return [] if value is None else [value] if isinstance(value, int) else list(value)


def render_prometheus_config(config: dict, *, monitor: int | Sequence[int], alertmanager: int,
                             predictor: int | Sequence[int] | None, rules_file: str) -> dict:
    """The project's Prometheus config pointed at this stack's ports (one or several of each job)."""
    rendered = {**config, "rule_files": [rules_file]}
    rendered["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager}"]}]}]}
    ports = {"shipyard-monitor": _ports(monitor), "shipyard-predictor": _ports(predictor)}
    rendered["scrape_configs"] = [
        {**job, "static_configs": [{"targets": [f"127.0.0.1:{port}" for port in ports[job["job_name"]]]}]}
        for job in config["scrape_configs"] if ports.get(job["job_name"])]
    return rendered


MONITOR_RECEIVER = "shipyard-monitor"


def render_alertmanager_config(config: dict, *, monitor: int | Mapping[str, int], token_file: Path) -> dict:
    """The project's Alertmanager config with the monitor's webhook on this stack's port and token.

    ``monitor`` as {model: port}: one receiver per model's monitor, and the monitor route split by
    the ``model`` label, so each model's alerts reach the monitor that serves (and retrains) it.
    """
    monitors = {"": monitor} if isinstance(monitor, int) else dict(monitor)
    receivers = []
    for receiver in config["receivers"]:
        if not receiver.get("webhook_configs"):
            receivers.append(receiver)
            continue
        for model, port in monitors.items():
            hooks = [{**hook, "url": hook["url"].replace("127.0.0.1:9108", f"127.0.0.1:{port}"),
                      "http_config": {"authorization": {"type": "Bearer", "credentials_file": str(token_file)}}}
                     for hook in receiver["webhook_configs"]]
            name = f"{receiver['name']}-{model}" if model else receiver["name"]
            receivers.append({**receiver, "name": name, "webhook_configs": hooks})
    route = config["route"]
    if "" not in monitors:
        routes = []
        for sub in route.get("routes", []):
            if sub.get("receiver") != MONITOR_RECEIVER:
                routes.append(sub)
                continue
            routes.append({**sub, "receiver": route["receiver"], "routes": [
                {"matchers": [f'model="{model}"'], "receiver": f"{MONITOR_RECEIVER}-{model}"} for model in monitors]})
        route = {**route, "routes": routes}
    return {**config, "route": route, "receivers": receivers}


@dataclass
class MonitoringStack:
    settings: Settings
    workdir: Path
    predictor_port: int | None = None
    monitor_interval: float = 5.0
    window_rows: int | None = None
    cooldown_seconds: float = 3600.0
    monitor_env: dict[str, str] | None = None  # the monitor's whole environment (default: this one + home)
    ports: dict[str, int] = field(default_factory=dict)
    max_runs_per_hour: int = 2
    # Other use cases side by side: their predictors' ports, and {model: monitor environment} of their
    # monitors (each environment names its SHIPYARD_USE_CASE and prediction log).
    more_predictor_ports: list[int] = field(default_factory=list)
    more_monitors: dict[str, dict[str, str]] = field(default_factory=dict)
    # Shared by Alertmanager (credentials file) and the monitor (SHIPYARD_WEBHOOK_TOKEN); fresh per stack.
    webhook_token: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    _servers: list[ServerProcess] = field(default_factory=list)
    _monitor: ServerProcess | None = None
    _more: list[ServerProcess] = field(default_factory=list)

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['prometheus']}"

    @property
    def monitor_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['monitor']}"

    def start(self) -> MonitoringStack:
        prometheus, alertmanager = find_tool("prometheus"), find_tool("prometheus-alertmanager", "alertmanager")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ports = {name: free_port() for name in ("prometheus", "alertmanager", "monitor")}
        self.ports.update({f"monitor-{model}": free_port() for model in self.more_monitors})
        try:
            self._start_alertmanager(alertmanager)
            self._start_monitor()
            for model, env in self.more_monitors.items():
                self._start_more_monitor(model, env)
            self._start_prometheus(prometheus)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_alertmanager(self, binary: str) -> None:
        config = self.workdir / "alertmanager.yml"
        token_file = self.workdir / "webhook-token"
        token_file.write_text(self.webhook_token)
        token_file.chmod(0o600)
        monitors: int | dict[str, int] = self.ports["monitor"]
        if self.more_monitors:
            monitors = {self._model(): self.ports["monitor"],
                        **{model: self.ports[f"monitor-{model}"] for model in self.more_monitors}}
        rendered = render_alertmanager_config(yaml.safe_load(ALERTMANAGER_CONFIG.read_text()),
                                              monitor=monitors, token_file=token_file)
        config.write_text(yaml.safe_dump(rendered, sort_keys=False))
        port = self.ports["alertmanager"]
        alertmanager = ServerProcess([f"--config.file={config}", f"--storage.path={self.workdir / 'alertmanager-data'}",
                                      f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                                     self.workdir / "alertmanager.log", program=[binary])
        self._servers.append(alertmanager)
        alertmanager.start().wait_until(http_ok(f"http://127.0.0.1:{port}/-/ready"), timeout=30)

    def _model(self) -> str:
        """The model of the first monitor (the one this stack's settings or monitor_env select)."""
        from shipyard.usecase import load_use_case

        name = (self.monitor_env or {}).get("SHIPYARD_USE_CASE") or self.settings.use_case
        return load_use_case(name).model_name

    def _monitor_args(self, port: int) -> list[str]:
        args = ["monitor", "serve", "--host", "127.0.0.1", "--port", str(port),
                "--interval", str(self.monitor_interval),
                "--cooldown", str(self.cooldown_seconds), "--max-runs-per-hour", str(self.max_runs_per_hour)]
        if self.window_rows:
            args += ["--window", str(self.window_rows)]
        return args

    def _start_more_monitor(self, model: str, env: dict[str, str]) -> None:
        port = self.ports[f"monitor-{model}"]
        monitor = ServerProcess(self._monitor_args(port), self.workdir / f"monitor-{model}.log", {})
        monitor.env = {**env, "SHIPYARD_WEBHOOK_TOKEN": self.webhook_token}  # its whole environment
        self._more.append(monitor)
        monitor.start()
        monitor.wait_until(http_ok(f"http://127.0.0.1:{port}/-/healthy"), timeout=60)

    def _start_monitor(self) -> None:
        args = self._monitor_args(self.ports["monitor"])
        env = {"SHIPYARD_HOME": str(self.settings.home),
               "SHIPYARD_PREDICTION_LOG_DIR": str(self.settings.prediction_log_dir),
               "SHIPYARD_WEBHOOK_TOKEN": self.webhook_token}
        self._monitor = ServerProcess(args, self.workdir / "monitor.log", env)
        if self.monitor_env is not None:  # the whole environment of a separate component, nothing inherited
            self._monitor.env = {**self.monitor_env, "SHIPYARD_WEBHOOK_TOKEN": self.webhook_token}
        self._monitor.start()
        self._monitor.wait_until(http_ok(f"{self.monitor_url}/-/healthy"), timeout=60)

    def _start_prometheus(self, binary: str) -> None:
        shutil.copy(RULES, self.workdir / "rules.yaml")
        rendered = render_prometheus_config(yaml.safe_load(PROMETHEUS_CONFIG.read_text()),
                                            monitor=[self.ports["monitor"], *(self.ports[f"monitor-{m}"]
                                                                              for m in self.more_monitors)],
                                            alertmanager=self.ports["alertmanager"],
                                            predictor=[p for p in (self.predictor_port, *self.more_predictor_ports)
                                                       if p is not None],
                                            rules_file="rules.yaml")
        config = self.workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump(rendered, sort_keys=False))
        data = self.workdir / "prometheus-data"
        prometheus = ServerProcess([f"--config.file={config}", f"--storage.tsdb.path={data}",
                                    f"--web.listen-address=127.0.0.1:{self.ports['prometheus']}"],
                                   self.workdir / "prometheus.log", program=[binary])
        self._servers.append(prometheus)
        prometheus.start().wait_until(http_ok(f"{self.prometheus_url}/-/ready"), timeout=30)

    def query(self, expr: str) -> list[dict]:
        body = httpx.get(f"{self.prometheus_url}/api/v1/query", params={"query": expr}, timeout=10).json()
        if body.get("status") != "success":
            raise ValueError(f"query {expr!r} failed: {body.get('error')}")
        return body["data"]["result"]

    def alerts(self, state: str = "firing") -> list[dict]:
        body = httpx.get(f"{self.prometheus_url}/api/v1/alerts", timeout=10).json()
        return [a for a in body["data"]["alerts"] if a["state"] == state]

    def retraining_runs(self) -> list[dict]:
        answer = httpx.get(f"{self.monitor_url}/hooks/alertmanager", timeout=10,
                           headers={"Authorization": f"Bearer {self.webhook_token}"})
        answer.raise_for_status()
        return answer.json()["runs"]

    def processes(self) -> list[ServerProcess]:
        """Every process this stack started (the monitors first)."""
        return [p for p in (self._monitor, *self._more, *self._servers) if p is not None]

    def stop(self) -> None:
        for process in self.processes():  # the monitor first: it must not call a stopped Alertmanager
            process.stop()

    def __enter__(self) -> MonitoringStack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
