"""Predictor metrics, registered in prometheus_client's default registry that KServe serves at /metrics."""

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

REQUESTS = Counter("shipyard_requests", "Scoring requests by protocol and HTTP status code.",
                   ["model", "version", "protocol", "code"])
REQUEST_DURATION = Histogram("shipyard_request_duration_seconds", "Time to validate, look up features and score.",
                             ["model", "version", "protocol"], buckets=LATENCY_BUCKETS)
FEATURE_LOOKUP_DURATION = Histogram("shipyard_feature_lookup_duration_seconds", "Online feature read latency.",
                                    ["model", "version", "store"], buckets=LATENCY_BUCKETS)
MISSING_FEATURES = Counter("shipyard_missing_features",
                           "Entities without online features (unknown customer); scored with defaults.",
                           ["model", "version", "feature_service"])
ONLINE_STORE_ERRORS = Counter("shipyard_online_store_errors", "Failed online feature reads.",
                              ["model", "version", "store"])
PREDICTION_SCORE = Histogram("shipyard_prediction_score", "Predicted probability of the positive class.",
                             ["model", "version"], buckets=tuple(i / 20 for i in range(1, 21)))
MODEL_INFO = Gauge("shipyard_model_info", "The model version this predictor serves (value is always 1).",
                   ["model", "version", "feature_service"])
