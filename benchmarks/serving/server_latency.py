"""The server's own view of a load run: its request-duration histogram, read from /metrics before and after.

wrk's latency runs from the generator's write to its read: it includes the kernel's loopback, both
processes' scheduling and wrk itself. Shipyard's ``shipyard_request_duration_seconds`` runs from the
request's arrival in the fast-path middleware to its answer. The two side by side say whether a slow
request was slow in the server or around it.
"""

from __future__ import annotations

import math
import urllib.request
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

METRIC = "shipyard_request_duration_seconds"
WITHIN_SECONDS = 0.001  # the p99 target at one connection


@dataclass(frozen=True)
class Histogram:
    """Cumulative counts by upper bound (seconds; the last bound is +Inf), summed over label sets."""
    buckets: dict[float, float]

    def __sub__(self, earlier: Histogram) -> Histogram:
        return Histogram({bound: count - earlier.buckets.get(bound, 0.0) for bound, count in self.buckets.items()})

    @property
    def count(self) -> float:
        return self.buckets.get(math.inf, 0.0)

    def share_within(self, seconds: float) -> float:
        """The share of requests answered within ``seconds`` (a bucket bound); NaN without requests."""
        if seconds not in self.buckets:
            raise ValueError(f"{seconds} s is not a bucket bound of {METRIC}")
        return self.buckets[seconds] / self.count if self.count else math.nan

    def quantile_bound(self, quantile: float) -> float:
        """The smallest bucket bound that at least ``quantile`` of the requests are within."""
        for bound in sorted(self.buckets):
            if self.count and self.buckets[bound] >= quantile * self.count:
                return bound
        return math.nan


def scrape(base_url: str, protocol: str = "v1") -> Histogram:
    """The request-duration histogram of ``protocol`` that the server at ``base_url`` exports now."""
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=10) as answer:
        return parse(answer.read().decode(), protocol)


def parse(text: str, protocol: str) -> Histogram:
    """The request-duration histogram of ``protocol`` in a Prometheus text exposition."""
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != METRIC:
            continue
        for sample in family.samples:
            if sample.name == f"{METRIC}_bucket" and sample.labels.get("protocol") == protocol:
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
    if not buckets:
        raise ValueError(f"no {METRIC} for protocol {protocol} in the scraped metrics")
    return Histogram(buckets)
