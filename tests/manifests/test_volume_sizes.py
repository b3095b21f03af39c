"""The prediction-log and drift-report volumes are sized for the retention (manifests/README.md,
"Volume sizes"): each PVC's annotations carry the sizing inputs, the rendered ConfigMap the retention,
and the log's bytes per record are measured here with the real writer at the file size the overlay's
traffic gives it."""

from __future__ import annotations

import os
import random
import re
import uuid
from datetime import UTC, datetime

import pytest

from components.serving.prediction_log import FLUSH_ROWS, FLUSH_SECONDS, PredictionLog, log_files
from shipyard.usecase import available_use_cases
from usecases.fraud import USE_CASE

pytestmark = pytest.mark.unit

OVERLAYS = ("dev", "staging", "prod")
HEADROOM = 1.2  # manifests/README.md: the hour being written, and retention running once per drift run
SECONDS_PER_DAY = 86_400
ONLINE_FEATURES = 3  # float features the fraud model's feature service adds to each record
_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15,
          "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50}


def quantity_bytes(text: str) -> int:
    """A Kubernetes storage quantity in bytes ("10Gi", "3Ti", "500M", "1000")."""
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)([A-Za-z]*)", text).groups()
    return int(float(number) * _UNITS[unit])


def _one(docs: list[dict], kind: str, name: str) -> dict:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def _retention_days(docs: list[dict]) -> int:
    return int(_one(docs, "ConfigMap", "shipyard-settings")["data"]["SHIPYARD_RETENTION_DAYS"])


def _record(rng: random.Random) -> dict:
    """One answered instance as the predictor logs it: the envelope, the request fields, the features."""
    record = {"request_id": uuid.UUID(int=rng.getrandbits(128)).hex, "timestamp": datetime.now(UTC).isoformat(),
              "status": 200, "model_version": 3, "score": rng.random(), "protocol": "v1",
              "features_missing": False, "features_stale": False, "unknown_category": False}
    for spec in USE_CASE.request_fields:
        low, high = spec.minimum or 0, spec.maximum if spec.maximum is not None else 100_000
        if spec.kind == "int":
            record[spec.name] = rng.randint(int(low), int(min(high, 10**9)))
        elif spec.kind == "float":
            record[spec.name] = round(rng.uniform(low, min(high, 10_000.0)), 2)
        else:
            record[spec.name] = f"category-{rng.randint(0, 20)}"
    for i in range(ONLINE_FEATURES):
        record[f"feature_{i}"] = rng.random() * 500
    return record


def measured_bytes_per_record(rows_per_file: int, tmp_path) -> float:
    """Bytes a record takes on disk when the writer's files hold ``rows_per_file`` records."""
    log = PredictionLog(tmp_path, replica="sizing", flush_rows=FLUSH_ROWS, flush_seconds=3600)
    rng = random.Random(7)
    log.append([_record(rng) for _ in range(rows_per_file)])
    log.close()
    return sum(os.path.getsize(path) for path in log_files(tmp_path)) / rows_per_file


@pytest.mark.parametrize("env", OVERLAYS)
def test_prediction_log_volume_holds_the_retention(rendered_docs, env, tmp_path):
    docs = rendered_docs[env]
    pvc = _one(docs, "PersistentVolumeClaim", "prediction-log")
    annotations = pvc["metadata"]["annotations"]
    rate = float(annotations["shipyard.io/sizing-records-per-second"])
    per_record = float(annotations["shipyard.io/sizing-bytes-per-record"])
    days = _retention_days(docs)
    needed = rate * SECONDS_PER_DAY * days * per_record * HEADROOM
    size = quantity_bytes(pvc["spec"]["resources"]["requests"]["storage"])
    assert size >= needed, f"{env}: prediction-log requests {size:,} bytes; {rate:g} records/s for {days} days " \
                           f"at {per_record:g} B/record needs {needed:,.0f}"
    # The bytes per record must hold for the files this traffic makes: spread over the most replicas,
    # each process writes every FLUSH_SECONDS (or FLUSH_ROWS), and small files cost more per record.
    replicas = _one(docs, "InferenceService", "fraud")["spec"]["predictor"]["maxReplicas"]
    rows_per_file = max(1, min(FLUSH_ROWS, int(rate / replicas * FLUSH_SECONDS)))
    measured = measured_bytes_per_record(rows_per_file, tmp_path)
    assert per_record >= measured, f"{env}: files of {rows_per_file} records take {measured:.0f} B/record, " \
                                   f"the sizing assumes {per_record:g}"


@pytest.mark.parametrize("use_case", available_use_cases())
@pytest.mark.parametrize("env", OVERLAYS)
def test_report_volume_holds_the_retention_and_is_where_the_monitor_writes(rendered_docs, env, use_case):
    docs = rendered_docs[env]
    pvc = _one(docs, "PersistentVolumeClaim", f"{use_case}-drift-reports")
    annotations = pvc["metadata"]["annotations"]
    per_day = float(annotations["shipyard.io/sizing-reports-per-day"])
    per_report = float(annotations["shipyard.io/sizing-bytes-per-report"])
    days = _retention_days(docs)
    needed = per_day * days * per_report * HEADROOM
    size = quantity_bytes(pvc["spec"]["resources"]["requests"]["storage"])
    assert size >= needed, f"{env}: drift-reports requests {size:,} bytes, needs {needed:,.0f}"

    monitor = _one(docs, "Deployment", f"{use_case}-drift-monitor")
    pod = monitor["spec"]["template"]["spec"]
    [container] = pod["containers"]
    interval = 60.0  # `shipyard monitor serve` default; an --interval argument overrides it
    if "--interval" in container["args"]:
        interval = float(container["args"][container["args"].index("--interval") + 1])
    assert per_day >= SECONDS_PER_DAY / interval, "sized for fewer reports than one per drift run"
    volume = next(v["name"] for v in pod["volumes"] if v.get("persistentVolumeClaim", {}).get("claimName")
                  == f"{use_case}-drift-reports")
    home = _one(docs, "ConfigMap", "shipyard-settings")["data"]["SHIPYARD_HOME"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts[volume]["mountPath"] == f"{home}/reports"  # Settings.reports_dir
    assert not mounts[volume].get("readOnly")
    # Retention deletes old log partitions: the monitor's log mount must be writable.
    log_volume = next(v for v in pod["volumes"] if v.get("persistentVolumeClaim", {}).get("claimName")
                      == "prediction-log")
    assert not log_volume["persistentVolumeClaim"].get("readOnly")
    assert not next(m for m in container["volumeMounts"] if m["name"] == log_volume["name"]).get("readOnly")
    if "ReadWriteOnce" in pvc["spec"]["accessModes"]:
        assert monitor["spec"]["strategy"]["type"] == "Recreate"


def test_quantities_parse():
    assert quantity_bytes("10Gi") == 10 * 2**30 and quantity_bytes("3Ti") == 3 * 2**40
    assert quantity_bytes("500M") == 500_000_000 and quantity_bytes("1000") == 1000
