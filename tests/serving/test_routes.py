"""Versioned routes, unknown categories, TLS with KServe's access-log format, 503 after unload."""

from __future__ import annotations

import datetime
import ipaddress
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.serving.conftest import start_serve
from tests.serving.platforms import copy_platform, logged_when

pytestmark = pytest.mark.integration

GOOD = {"customer_id": 17, "amount": 42.5, "merchant_category": "grocery", "hour": 13}
V2_TYPES = {"customer_id": "INT64", "amount": "FP64", "merchant_category": "BYTES", "hour": "INT64"}


def v2_body(row: dict) -> dict:
    return {"inputs": [{"name": n, "shape": [1], "datatype": t, "data": [row[n]]} for n, t in V2_TYPES.items()]}


def metric(url: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in httpx.get(f"{url}/metrics", verify=False).text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.split()[-1])
    return total


@pytest.fixture(scope="module")
def predictor(trained_home, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    home = tmp_path_factory.mktemp("routes") / "home"
    platform = copy_platform(trained_home, home)
    process, url = start_serve(platform, home / "serve.log")
    try:
        yield url, platform.settings.prediction_log_dir
    finally:
        process.stop()


@pytest.mark.parametrize("path", ["/v2/models/fraud/versions/1/infer", "/v2/models/fraud/versions/1/ready",
                                  "/v2/models/fraud/versions/1"])
def test_the_served_version_answers_like_the_unversioned_route(predictor, path):
    url, _ = predictor
    unversioned = path.replace("/versions/1", "")
    if path.endswith("/infer"):
        versioned, plain = (httpx.post(f"{url}{p}", json=v2_body(GOOD)) for p in (path, unversioned))
        assert versioned.status_code == plain.status_code == 200, versioned.text
        assert versioned.json()["outputs"] == plain.json()["outputs"]
    else:
        versioned, plain = httpx.get(f"{url}{path}"), httpx.get(f"{url}{unversioned}")
        assert versioned.status_code == plain.status_code == 200, versioned.text
        assert versioned.json() == plain.json()


@pytest.mark.parametrize("method, path", [("POST", "/v2/models/fraud/versions/3/infer"),
                                          ("GET", "/v2/models/fraud/versions/3/ready"),
                                          ("GET", "/v2/models/fraud/versions/0"),
                                          ("GET", "/v2/models/fraud/versions//ready")])
def test_any_other_version_is_a_json_404(predictor, method, path):
    url, _ = predictor
    response = httpx.request(method, f"{url}{path}", json=v2_body(GOOD) if method == "POST" else None)
    assert response.status_code == 404
    assert "serves version 1" in response.json()["error"]


def test_unknown_category_is_scored_flagged_and_counted(predictor):
    url, log_dir = predictor
    before = metric(url, "shipyard_unknown_categories_total", field="merchant_category")
    rows = [GOOD, {**GOOD, "merchant_category": "space-tourism"}]
    response = httpx.post(f"{url}/v1/models/fraud:predict", json={"instances": rows},
                          headers={"x-request-id": "unknown-category"})
    assert response.status_code == 200, response.text
    assert metric(url, "shipyard_unknown_categories_total", field="merchant_category") == before + 1
    log = logged_when(log_dir, lambda log: (log["request_id"] == "unknown-category").sum() >= 2)
    logged = log[log["request_id"] == "unknown-category"]
    assert logged["unknown_category"].tolist() == [False, True]


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "tls.crt", folder / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls_and_a_custom_access_log_then_503_after_unload_and_a_reload(trained_home, tmp_path: Path):
    """Also gRPC readiness (its port stays plaintext): false while unloaded and once SIGTERM starts the drain."""
    import signal

    from shipyard_cli.processes import free_port
    from tests.serving.conftest import grpc_repository_change, grpc_session

    cert, key = self_signed_certificate(tmp_path)
    port, grpc_port = free_port(), free_port()
    grpc_address = f"127.0.0.1:{grpc_port}"
    home = tmp_path / "home"
    log_path = tmp_path / "serve.log"
    https = f"https://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{https}/v2/models/fraud/ready", verify=str(cert), timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    from shipyard_cli.processes import ServerProcess

    server = ServerProcess(["serve", "--port", str(port), "--grpc-port", str(grpc_port), "--drain-seconds", "30",
                            "--ssl-certfile", str(cert), "--ssl-keyfile", str(key),
                            "--access-log-format", 'ACCESS %(s)s "%(r)s" route=%({x-shipyard-route}o)s'],
                           log_path, copy_platform(trained_home, home).env)
    server.start_until(ready)
    try:
        with httpx.Client(verify=str(cert), timeout=10) as client:
            scored = client.post(f"{https}/v2/models/fraud/infer", json=v2_body(GOOD))
            assert scored.status_code == 200, scored.text
            with pytest.raises(httpx.HTTPError):
                httpx.get(f"http://127.0.0.1:{port}/v2/health/live", timeout=2)  # TLS only
            unloaded = client.post(f"{https}/v2/repository/models/fraud/unload")
            assert unloaded.status_code == 200, unloaded.text
            for path, body in (("/v2/models/fraud/infer", v2_body(GOOD)),
                               ("/v1/models/fraud:predict", {"instances": [GOOD]})):
                after = client.post(f"{https}{path}", json=body)
                assert after.status_code == 503, (path, after.text)
                assert "not loaded" in after.json()["error"]
            # Not ready while unloaded (KServe would say ready: no model left to ask; and its model readiness
            # 404, the model forgotten), and a load loads it again (KServe's own load does nothing).
            for path in ("/v2/health/ready", "/v2/models/fraud/ready", "/v1/models/fraud"):
                not_ready = client.get(f"{https}{path}")
                assert not_ready.status_code == 503 and "not loaded" in not_ready.json()["error"], path
            unloaded_grpc = grpc_session(grpc_address, [GOOD])
            assert (unloaded_grpc["ready"], unloaded_grpc["model_ready"]) == (False, False), unloaded_grpc
            assert unloaded_grpc.get("status") == "StatusCode.UNAVAILABLE", unloaded_grpc.get("scores")
            other = client.post(f"{https}/v2/repository/models/nope/load")
            assert other.status_code == 404 and "is not served here" in other.json()["error"]
            loaded = client.post(f"{https}/v2/repository/models/fraud/load")
            assert loaded.status_code == 200, loaded.text
            assert client.get(f"{https}/v2/health/ready").status_code == 200
            again = client.post(f"{https}/v2/models/fraud/infer", json=v2_body(GOOD))
            assert again.status_code == 200 and again.json()["outputs"] == scored.json()["outputs"], again.text
            assert grpc_session(grpc_address, [GOOD])["ready"] is True
            # The same over gRPC (KServe's servicer alone answered INTERNAL to both, whatever happened).
            assert grpc_repository_change(grpc_address, "unload") == "done"
            assert client.get(f"{https}/v2/health/ready").status_code == 503
            assert grpc_repository_change(grpc_address, "load") == "done"
            loaded_grpc = grpc_session(grpc_address, [GOOD])
            assert loaded_grpc["ready"] is True and len(loaded_grpc["scores"]) == 1, loaded_grpc
            server.signal(signal.SIGTERM)  # the drain: not ready, still scoring
            draining = grpc_session(grpc_address, [GOOD])
            assert draining["ready"] is False and len(draining["scores"]) == 1, draining
    finally:
        server.stop()
    lines = log_path.read_text().splitlines()
    assert any(re.search(r'ACCESS 200 "POST /v2/models/fraud/infer HTTP/1.1" route=fast', line) for line in lines), \
        "\n".join(lines[-20:])
    assert any(re.search(r'ACCESS 503 "POST /v1/models/fraud:predict', line) for line in lines)


def test_the_fast_path_answers_ahead_of_the_middlewares_kserve_adds_after_it(trained_home, tmp_path: Path):
    """Without an access-log format the fast path moves ahead of KServe's TimingMiddleware (fast_path.py,
    ``_arrange``): its answers skip it, while a request KServe answers still passes it. The timing
    line (logger ``kserve.trace``) shows which: ``--access-log`` leaves that logger on. This pins the
    Starlette attributes the move relies on."""
    platform = copy_platform(trained_home, tmp_path / "home")
    log_path = tmp_path / "serve.log"
    server, url = start_serve(platform, log_path, "--access-log")
    try:
        scored = httpx.post(f"{url}/v1/models/fraud:predict", json={"instances": [GOOD]}, timeout=10)
        assert scored.status_code == 200 and scored.headers["x-shipyard-route"] == "fast", scored.text
        assert httpx.get(f"{url}/v2/models/fraud", timeout=10).status_code == 200
    finally:
        server.stop()
    timings = [line for line in log_path.read_text().splitlines() if "kserve.io." in line]
    assert any("kserve.io.v2.models.fraud: " in line for line in timings), timings  # metadata: KServe's
    assert not any(":predict" in line for line in timings), timings
