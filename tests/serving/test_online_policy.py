import pytest

from components.serving.online_features import NO_HISTORY, apply_policy

pytestmark = pytest.mark.unit

NAMES = ["txn_count_7d", "avg_amount_7d"]
AS_OF = 1_000_000.0
DAY = 86_400.0


def test_fresh_rows_pass_through_and_unknown_or_stale_ones_get_defaults():
    rows = [
        (AS_OF - DAY, [3.0, 20.5]),        # fresh: one day old, TTL two days
        (None, [None, None]),              # unknown entity
        (AS_OF - 3 * DAY, [9.0, 99.0]),    # stale: older than the TTL
        (AS_OF - DAY, [4.0, None]),        # partly written row: treated as unknown, never a NaN
    ]
    result = apply_policy(rows, NAMES, as_of=AS_OF, ttl_seconds=2 * DAY)
    assert result.values == {"txn_count_7d": [3.0, NO_HISTORY, NO_HISTORY, NO_HISTORY],
                             "avg_amount_7d": [20.5, NO_HISTORY, NO_HISTORY, NO_HISTORY]}
    assert result.missing == [False, True, False, True]
    assert result.stale == [False, False, True, False]


def test_without_a_ttl_or_a_clock_nothing_is_stale():
    rows = [(0.0, [1.0, 2.0])]
    assert apply_policy(rows, NAMES, as_of=AS_OF, ttl_seconds=None).stale == [False]
    assert apply_policy(rows, NAMES, as_of=None, ttl_seconds=DAY).stale == [False]
    assert apply_policy(rows, NAMES, as_of=None, ttl_seconds=DAY).values["txn_count_7d"] == [1.0]
