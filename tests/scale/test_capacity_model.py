"""The capacity model: its arithmetic, and the prod overlay generated from the committed measurements."""

import pytest

from benchmarks.capacity import model

pytestmark = pytest.mark.unit


def measurements(cpu_ms_one: float, cpu_ms_two: float, points: list[tuple[float, float]]) -> dict:
    return {
        "measured_at": "test",
        "closed_loop": [{"workers": 1, "server_cpu_ms_per_request": cpu_ms_one},
                        {"workers": 2, "server_cpu_ms_per_request": cpu_ms_two}],
        "open_loop_one_worker": [{"server_cpu_utilization": u, "p99_ms": p99, "errors": 0, "achieved_rps": 100.0}
                                 for u, p99 in points],
    }


def test_replicas_follow_from_the_measured_cost_per_request_and_the_latency_objective():
    # 0.5 ms of CPU per request (the worse of 1 and 2 workers) = 2000 req/s per core. M/M/1 keeps p99 within
    # 10 ms up to 1 - 0.5 * ln(100) / 10 = 77% (-> 75% target): one replica carries 1500 req/s, and
    # 10,000 req/s need ceil(6.67) = 7 replicas.
    plan = model.plan(measurements(0.4, 0.5, [(0.3, 2.0)]))
    assert plan.core_capacity_rps == pytest.approx(2000)
    assert plan.hpa_target_percent == 75
    assert plan.replica_rps == pytest.approx(1500)
    assert (plan.replicas, plan.min_replicas, plan.max_replicas) == (7, 8, 14)
    # Twice the load, twice the replicas (rounded up); a tighter objective, a lower target, more replicas.
    assert model.plan(measurements(0.4, 0.5, []), target_rps=20_000).replicas == 14
    tighter = model.plan(measurements(0.4, 0.5, []), target_p99_ms=5.0)
    assert tighter.hpa_target_percent == 50 and tighter.replicas == 10


def test_open_loop_measurements_that_contradict_the_target_are_named():
    data = measurements(0.4, 0.5, [(0.3, 2.0), (0.6, 30.0), (0.9, 80.0)])
    plan = model.plan(data)
    assert [p["p99_ms"] for p in model.open_loop_over_objective(plan, data)] == [30.0]
    assert "1 of 3 at or below the target missed the objective" in model.readme_table(plan, data)


def test_an_objective_the_service_time_alone_breaks_is_refused():
    with pytest.raises(ValueError, match="no utilization keeps p99 within 2"):
        model.plan(measurements(0.4, 0.5, []), target_p99_ms=2.0)


def test_the_prod_overlay_is_generated_from_the_committed_measurements():
    assert model.OVERLAY.read_text() == model.generated(), (
        "manifests/overlays/prod/scale.yaml is out of date: run `python -m benchmarks.capacity.model`")
