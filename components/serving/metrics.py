"""Predictor metrics, registered in prometheus_client's default registry that KServe serves at /metrics.

Names and labels are the ones in docs/contract.md. ``ServingMetrics`` binds the labels once, so the
request path only calls ``inc``/``observe`` on ready children. With several worker processes
(server.py), ``multiprocess_exposition`` is what /metrics answers: the sum over every process.
"""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

REQUESTS = Counter("shipyard_requests", "Scoring requests by protocol and HTTP status code.",
                   ["model", "version", "protocol", "code"])
REQUEST_DURATION = Histogram("shipyard_request_duration_seconds", "Time to validate, look up features and score.",
                             ["model", "version", "protocol"], buckets=LATENCY_BUCKETS)
FEATURE_LOOKUP_DURATION = Histogram("shipyard_feature_lookup_duration_seconds", "Online feature read latency.",
                                    ["model", "version", "store"], buckets=LATENCY_BUCKETS)
MISSING_FEATURES = Counter("shipyard_missing_features",
                           "Entities without online features (unknown customer); scored with defaults.",
                           ["model", "version", "feature_service"])
STALE_FEATURES = Counter("shipyard_stale_features",
                         "Entities whose online features are older than the view's TTL; scored with defaults.",
                         ["model", "version", "feature_service"])
ONLINE_STORE_ERRORS = Counter("shipyard_online_store_errors", "Failed online feature reads.",
                              ["model", "version", "store"])
PROBABILITY_BUCKETS = tuple(i / 20 for i in range(1, 21))
# A regression's value is in its label's unit (minutes, euros): a 1-2-5 ladder from 0.1 to 5,000.
VALUE_BUCKETS = tuple(m * 10.0 ** e for e in range(-1, 4) for m in (1, 2, 5))
_prediction_score: Histogram | None = None


def prediction_score(regression: bool = False) -> Histogram:
    """``shipyard_prediction_score``, registered once per process with the buckets of the first use
    case's task (a predictor serves one use case): probabilities in 0.05 steps, or a regression's value."""
    global _prediction_score
    if _prediction_score is None:
        _prediction_score = Histogram(
            "shipyard_prediction_score", "Predicted probability of the positive class, or a regression's "
            "predicted value in the label's unit.", ["model", "version"],
            buckets=VALUE_BUCKETS if regression else PROBABILITY_BUCKETS)
    return _prediction_score

UNKNOWN_CATEGORIES = Counter("shipyard_unknown_categories",
                             "Instances with a category value never seen in training; scored, flagged in the log.",
                             ["model", "version", "field"])
MODEL_INFO = Gauge("shipyard_model_info", "The model version this predictor serves (value is always 1).",
                   ["model", "version", "feature_service"], multiprocess_mode="max")  # one series, not one per worker

PROTOCOLS = ("v1", "v2", "grpc")


class ServingMetrics:
    def __init__(self, model: str, version: int, feature_service: str, store: str,
                 categorical: tuple[str, ...] = (), regression: bool = False):
        labels = {"model": model, "version": str(version)}
        self._labels = labels
        self.duration = {p: REQUEST_DURATION.labels(**labels, protocol=p) for p in PROTOCOLS}
        self.lookup = FEATURE_LOOKUP_DURATION.labels(**labels, store=store)
        self.missing = MISSING_FEATURES.labels(**labels, feature_service=feature_service)
        self.stale = STALE_FEATURES.labels(**labels, feature_service=feature_service)
        self.store_errors = ONLINE_STORE_ERRORS.labels(**labels, store=store)
        self.score = prediction_score(regression).labels(**labels)
        self.unknown_category = {field: UNKNOWN_CATEGORIES.labels(**labels, field=field) for field in categorical}
        self._requests: dict[tuple[str, int], Counter] = {}
        MODEL_INFO.labels(**labels, feature_service=feature_service).set(1)
        for protocol in PROTOCOLS:  # export the series from the start, not after the first request
            self.request(protocol, 200)

    def request(self, protocol: str, code: int):
        child = self._requests.get((protocol, code))
        if child is None:
            child = self._requests[(protocol, code)] = REQUESTS.labels(**self._labels, protocol=protocol,
                                                                        code=str(code))
        return child


def multiprocess_exposition(accept: str | None) -> tuple[bytes, str]:
    """Every process's metrics summed (prometheus_client's ``MultiProcessCollector``), in the format
    the scraper's ``Accept`` header asks for: the body and its content type."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type
