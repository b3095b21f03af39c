"""The capacity model: its arithmetic, and the prod overlay generated from the committed measurements."""

import pytest

from benchmarks.capacity import model

pytestmark = pytest.mark.unit


def measurements(cpu_ms_one: float, cpu_ms_two: float, points: list[tuple[float, float]]) -> dict:
    return {
        "measured_at": "test",
        "closed_loop": [{"workers": 1, "server_cpu_ms_per_request": cpu_ms_one},
                        {"workers": 2, "server_cpu_ms_per_request": cpu_ms_two}],
        "open_loop_one_worker": [{"server_cpu_utilization": u, "p99_ms": p99, "errors": 0} for u, p99 in points],
    }


def test_replicas_follow_from_per_core_capacity_and_the_utilization_that_keeps_p99():
    # 0.5 ms of CPU per request (the worse of 1 and 2 workers) = 2000 req/s per core; p99 holds up to 63%
    # CPU (-> 60% target) so one replica carries 1200 req/s; 10,000 req/s need ceil(8.33) = 9 replicas.
    plan = model.plan(measurements(0.4, 0.5, [(0.3, 2.0), (0.63, 6.0), (0.8, 14.0)]))
    assert plan.core_capacity_rps == pytest.approx(2000)
    assert plan.hpa_target_percent == 60
    assert plan.replica_rps == pytest.approx(1200)
    assert (plan.replicas, plan.min_replicas, plan.max_replicas) == (9, 10, 18)
    # Twice the load, twice the replicas; a tighter latency objective, a lower target and more replicas.
    assert model.plan(measurements(0.4, 0.5, [(0.3, 2.0), (0.63, 6.0)]), target_rps=20_000).replicas == 17
    tighter = model.plan(measurements(0.4, 0.5, [(0.3, 2.0), (0.63, 6.0)]), target_p99_ms=5.0)
    assert tighter.hpa_target_percent == 30 and tighter.replicas == 17


def test_an_objective_no_measured_load_met_is_refused():
    with pytest.raises(ValueError, match="no measured load kept p99 within 10"):
        model.plan(measurements(0.4, 0.5, [(0.3, 12.0), (0.6, 30.0)]))


def test_the_prod_overlay_is_generated_from_the_committed_measurements():
    assert model.OVERLAY.read_text() == model.generated(), (
        "manifests/overlays/prod/scale.yaml is out of date: run `python -m benchmarks.capacity.model`")
