"""The serving bench's reading of a server's own request-duration histogram (benchmarks/serving/server_latency.py)."""

import math

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from benchmarks.serving import server_latency

pytestmark = pytest.mark.unit


def exposition(durations: dict[str, list[float]]) -> str:
    registry = CollectorRegistry()
    histogram = Histogram(server_latency.METRIC, "test", ["protocol"], registry=registry,
                          buckets=(0.0005, 0.001, 0.002))
    for protocol, values in durations.items():
        for value in values:
            histogram.labels(protocol=protocol).observe(value)
    return generate_latest(registry).decode()


def test_shares_and_p99_bound_come_from_the_difference_of_two_scrapes():
    before = server_latency.parse(exposition({"v1": [0.0003] * 50 + [0.0015] * 50, "v2": [0.1] * 7}), "v1")
    # 1,000 more v1 requests: 985 within 1 ms, 15 above it (p99 is then above 1 ms); v2 must not count.
    after = server_latency.parse(exposition({"v1": [0.0003] * 50 + [0.0015] * 50 + [0.0007] * 985
                                            + [0.0015] * 15, "v2": [0.1] * 7}), "v1")
    run = after - before
    assert run.count == 1000
    assert run.share_within(0.001) == pytest.approx(0.985)
    assert run.quantile_bound(0.99) == 0.002
    assert run.quantile_bound(0.98) == 0.001
    with pytest.raises(ValueError, match="not a bucket bound"):
        run.share_within(0.003)


def test_a_run_without_requests_says_so_rather_than_dividing_by_zero():
    same = server_latency.parse(exposition({"v1": [0.0003]}), "v1")
    empty = same - same
    assert math.isnan(empty.share_within(0.001)) and math.isnan(empty.quantile_bound(0.99))


def test_a_server_without_the_histogram_is_an_error_not_an_empty_reading():
    with pytest.raises(ValueError, match="no shipyard_request_duration_seconds for protocol v1"):
        server_latency.parse(exposition({"v2": [0.0003]}), "v1")
