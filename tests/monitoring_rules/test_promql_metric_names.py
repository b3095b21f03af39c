"""The metric-name extractor the dashboard and rule checks rely on: it must find every name."""

import pytest

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('sum by (le) (rate(shipyard_x_bucket{model="$model", le=~"0.1|1"}[$__rate_interval]))',
         {"shipyard_x_bucket"}),
        ("shipyard_a and on (model, feature) (shipyard_b == 1)", {"shipyard_a", "shipyard_b"}),
        ("time() - shipyard_last_success_timestamp_seconds > 9e2", {"shipyard_last_success_timestamp_seconds"}),
        ("absent(shipyard_gone)", {"shipyard_gone"}),
        ("level:shipyard_requests:rate5m / ignoring (code) group_left (version) shipyard_info offset 5m",
         {"level:shipyard_requests:rate5m", "shipyard_info"}),
        ('label_replace(shipyard_a, "dst", "$1", "src", "(.*) and rate")', {"shipyard_a"}),
        ("sum(rate(shipyard_a[5m])) by (model) > bool 0x10", {"shipyard_a"}),
        ("vector(1) + Inf - NaN", set()),
    ],
)
def test_metric_names_finds_selected_series_only(promql_metric_names, expr, expected):
    assert promql_metric_names(expr) == expected


def test_unknown_metric_is_reported(promql_metric_names, known_metrics):
    expr = 'sum(rate(shipyard_requests_total{code="200"}[5m])) / sum(rate(shipyard_request_total[5m]))'
    assert promql_metric_names(expr) - known_metrics == {"shipyard_request_total"}


def test_histogram_suffixes_are_known_only_for_histograms(known_metrics):
    assert "shipyard_request_duration_seconds_bucket" in known_metrics
    assert "shipyard_request_duration_seconds" not in known_metrics
    assert "shipyard_requests_total_bucket" not in known_metrics
