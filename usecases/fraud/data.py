"""Seeded generator of card transactions with late fraud labels and named drift scenarios.

Nothing is downloaded: the same seed always gives the same customers and the same events, and a
scenario only changes the traffic that follows the baseline period (same customers, later dates).
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

START = pd.Timestamp("2026-09-01", tz="UTC")
BASELINE_DAYS = 42
TRAFFIC_DAYS = 7
WARMUP_DAYS = 7  # feature rows start once a full 7-day window exists
CUSTOMERS = 5000  # fixed per seed, so baseline and scenario traffic share the same customers
FRAUD_RATE = 0.015

CATEGORIES = ["grocery", "restaurants", "fuel", "retail", "electronics", "travel", "online", "entertainment"]
BASE_MIX = np.array([0.26, 0.17, 0.12, 0.16, 0.06, 0.05, 0.12, 0.06])
SHIFTED_MIX = np.array([0.10, 0.08, 0.06, 0.12, 0.20, 0.09, 0.28, 0.07])
FRAUD_MIX = np.array([0.04, 0.04, 0.04, 0.10, 0.28, 0.20, 0.26, 0.04])
# Daily cycle: quiet nights, a lunch peak and an evening peak.
HOUR_WEIGHTS = np.array([1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.5, 3, 4, 4.5, 5, 5.5,
                         7, 6.5, 5.5, 5, 5.5, 6.5, 7.5, 7, 6, 4.5, 3, 2], dtype=float)

SCENARIOS = {
    "amount_inflation": ("Prices rise: every amount is 70% higher.", ("amount",)),
    "merchant_mix_shift": ("Spending moves to electronics and online shops.", ("merchant_category",)),
    "fraud_pattern_shift": ("Card-testing attack: 12% fraud, tiny amounts, almost all at night.", ("hour", "amount")),
}


def _customers(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    activity = rng.lognormal(0.0, 0.9, n)
    typical_amount = rng.lognormal(3.2, 0.5, n)
    return activity / activity.sum(), typical_amount


def _pick(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    return rng.choice(len(weights), size=size, p=weights / weights.sum())


def generate_transactions(rows: int, seed: int, scenario: str | None = None) -> pd.DataFrame:
    """Labelled transactions: the baseline period, or the traffic after it under ``scenario``.

    ``scenario="normal"`` gives post-baseline traffic without drift.
    """
    if rows < 1:
        raise ValueError("rows must be at least 1")
    if scenario not in (None, "normal", *SCENARIOS):
        raise ValueError(f"unknown drift scenario {scenario!r}; known: normal, {', '.join(SCENARIOS)}")
    activity, typical_amount = _customers(CUSTOMERS, seed)
    stream = zlib.crc32((scenario or "baseline").encode())
    rng = np.random.default_rng([seed, stream])
    start, days = (START, BASELINE_DAYS) if scenario is None else (
        START + pd.Timedelta(days=BASELINE_DAYS), TRAFFIC_DAYS)

    customer = rng.choice(CUSTOMERS, size=rows, p=activity)
    fraud_rate = 0.12 if scenario == "fraud_pattern_shift" else FRAUD_RATE
    is_fraud = rng.random(rows) < fraud_rate
    mix = SHIFTED_MIX if scenario == "merchant_mix_shift" else BASE_MIX
    category = np.where(is_fraud, _pick(rng, FRAUD_MIX, rows), _pick(rng, mix, rows))
    hour = _pick(rng, HOUR_WEIGHTS, rows)
    amount = typical_amount[customer] * rng.lognormal(0.0, 0.6, rows)

    if scenario == "fraud_pattern_shift":
        # Card testing: tiny amounts at whatever merchants accept them, almost all between midnight
        # and 5 am. It moves `hour` and `amount` (and the fraud rate), not the merchant mix.
        night = rng.integers(0, 5, rows)
        hour = np.where(is_fraud & (rng.random(rows) < 0.95), night, hour)
        amount = np.where(is_fraud, rng.uniform(0.5, 5.0, rows), amount)
        category = _pick(rng, mix, rows)
    else:
        # Classic fraud: several times the customer's usual amount, often at night.
        night = rng.integers(0, 6, rows)
        hour = np.where(is_fraud & (rng.random(rows) < 0.4), night, hour)
        amount = np.where(is_fraud, amount * rng.lognormal(1.3, 0.5, rows), amount)
    if scenario == "amount_inflation":
        amount = amount * 1.7

    day = rng.integers(0, days, rows)
    seconds = rng.integers(0, 3600, rows)
    ts = start + pd.to_timedelta(day, unit="D") + pd.to_timedelta(hour, unit="h") + pd.to_timedelta(seconds, unit="s")
    label_delay = pd.to_timedelta(1 + rng.exponential(7.0, rows), unit="D")  # chargebacks come late
    frame = pd.DataFrame({
        "customer_id": customer.astype("int64") + 1,
        "event_timestamp": ts,
        "amount": np.round(amount, 2),
        "merchant_category": np.array(CATEGORIES)[category],
        "hour": hour.astype("int64"),
        "is_fraud": is_fraud.astype("int64"),
        "label_available_at": ts + label_delay,
    }).sort_values("event_timestamp", kind="stable").reset_index(drop=True)
    frame.insert(0, "transaction_id", [f"t{seed}-{stream % 10_000}-{i}" for i in range(rows)])
    return frame


def _window_sum(values: np.ndarray, window: int) -> np.ndarray:
    csum = np.cumsum(values, axis=1)
    shifted = np.zeros_like(csum)
    shifted[:, window:] = csum[:, :-window]
    return csum - shifted


def _window_max(values: np.ndarray, window: int) -> np.ndarray:
    padded = np.pad(values, ((0, 0), (window - 1, 0)))
    return sliding_window_view(padded, window, axis=1).max(axis=2)


def build_customer_features(transactions: pd.DataFrame) -> pd.DataFrame:
    """Daily customer spend statistics, stamped at the end of each day (offline feature table).

    A row stamped at the end of day D covers transactions up to and including day D, so a point-in-
    time join gives an event on day D+1 exactly what was known before it happened.
    """
    day = transactions["event_timestamp"].dt.floor("D")
    first, last = day.min(), day.max()
    n_days = (last - first).days + 1
    customers = np.sort(transactions["customer_id"].unique())
    row = np.searchsorted(customers, transactions["customer_id"].to_numpy())
    col = (day - first).dt.days.to_numpy()
    count = np.zeros((len(customers), n_days))
    total = np.zeros((len(customers), n_days))
    peak = np.zeros((len(customers), n_days))
    amount = transactions["amount"].to_numpy()
    np.add.at(count, (row, col), 1)
    np.add.at(total, (row, col), amount)
    np.maximum.at(peak, (row, col), amount)

    count_7d, total_7d = _window_sum(count, 7), _window_sum(total, 7)
    with np.errstate(invalid="ignore", divide="ignore"):
        avg_7d = np.where(count_7d > 0, total_7d / count_7d, 0.0)
    keep = slice(WARMUP_DAYS - 1, n_days)
    days = pd.date_range(first, periods=n_days, freq="D")[keep] + pd.Timedelta(hours=23, minutes=59, seconds=59)
    grid = len(customers), len(days)
    features = pd.DataFrame({
        "customer_id": np.repeat(customers, len(days)).astype("int64"),
        "event_timestamp": np.tile(days, len(customers)),
        "txn_count_7d": count_7d[:, keep].reshape(-1).astype("int64"),
        "avg_amount_7d": np.round(avg_7d[:, keep].reshape(-1), 2),
        "max_amount_7d": np.round(_window_max(peak, 7)[:, keep].reshape(-1), 2),
    })
    assert len(features) == grid[0] * grid[1]
    features["created_timestamp"] = features["event_timestamp"]
    return features
