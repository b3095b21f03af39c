"""One-entity online feature read: Shipyard's reader against Feast's ``get_online_features``."""

from __future__ import annotations

import re
import statistics
import time

import httpx

from shipyard.settings import Settings


def median_call_us(call, arguments: list, repeats: int) -> float:
    for argument in arguments[:50]:  # warm caches and the connection
        call(argument)
    times = []
    for i in range(repeats):
        argument = arguments[i % len(arguments)]
        started = time.perf_counter()
        call(argument)
        times.append(time.perf_counter() - started)
    return 1e6 * statistics.median(times)


def one_entity_reads(settings: Settings, entity_ids: list[int], repeats: int = 3000) -> dict[str, float]:
    """Median microseconds per one-entity read, each way, against the same Redis data."""
    from components.serving.online_features import OnlineFeatures
    from shipyard.usecase import load_use_case

    use_case = load_use_case(settings.use_case)
    features = OnlineFeatures(settings, use_case)
    reader = features.plans[0].reader
    store, service = features.store, features.service
    try:
        return {
            "Shipyard reader (one HMGET, Feast's key and value encoding)":
                median_call_us(lambda i: reader.read([i]), entity_ids, repeats),
            "Shipyard lookup incl. TTL/unknown policy":
                median_call_us(lambda i: features.lookup([i]), entity_ids, repeats),
            "Feast get_online_features":
                median_call_us(lambda i: store.get_online_features(features=service,
                                                                   entity_rows=[{use_case.entity: i}]),
                               entity_ids, repeats // 3),
        }
    finally:
        features.stop()


def server_mean_lookup_us(metrics_url: str) -> float:
    """Mean feature lookup time inside the server over the whole run, from its own histogram."""
    text = httpx.get(metrics_url, timeout=10).text
    total = sum(float(v) for v in re.findall(r"^shipyard_feature_lookup_duration_seconds_sum\{.*\} (\S+)$", text, re.M))
    count = sum(float(v) for v in re.findall(r"^shipyard_feature_lookup_duration_seconds_count\{.*\} (\S+)$", text,
                                             re.M))
    return 1e6 * total / max(count, 1.0)
