"""Seeded generator of food-delivery orders with late delivery times and named drift scenarios.

Each order's delivery time is the restaurant's preparation time (slower kitchens, bigger baskets,
busier hours) plus the courier's ride (distance at the hour's traffic speed) plus noise. The true
delivery time is known only when the order arrives, so the label comes late. A scenario changes only
the traffic after the baseline period (same restaurants, later dates).
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

START = pd.Timestamp("2026-09-01", tz="UTC")
BASELINE_DAYS = 42
TRAFFIC_DAYS = 7
RESTAURANTS = 800
# Orders per hour of the day: lunch and dinner peaks.
HOUR_WEIGHTS = np.array([0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.3, 0.8, 1.2, 1.0, 1.2, 3.5,
                         5.0, 4.0, 2.0, 1.5, 1.8, 3.0, 5.5, 6.0, 4.5, 2.5, 1.2, 0.6])
RUSH_HOURS = {12, 13, 18, 19, 20}

SCENARIOS = {
    "suburb_expansion": ("The service opens in the suburbs: rides are twice as long.", ("distance_km",)),
    "party_season": ("Group orders: baskets three times bigger.", ("basket_items",)),
    "kitchen_slowdown": ("Kitchens short of staff: preparation takes 60% longer.",
                         ("avg_prep_minutes_7d",)),
}


def _restaurants(seed: int) -> np.ndarray:
    """Each restaurant's typical preparation time in minutes (fixed per seed)."""
    return np.random.default_rng(seed).gamma(6.0, 2.5, RESTAURANTS) + 4.0


def generate_orders(rows: int, seed: int, scenario: str | None = None) -> pd.DataFrame:
    """Orders with their delivery time: the baseline period, or post-baseline traffic of a scenario."""
    if rows < 1:
        raise ValueError("rows must be at least 1")
    if scenario not in (None, "normal", *SCENARIOS):
        raise ValueError(f"unknown drift scenario {scenario!r}; known: normal, {', '.join(SCENARIOS)}")
    prep_typical = _restaurants(seed)
    rng = np.random.default_rng([seed, zlib.crc32((scenario or "baseline").encode())])
    start, days = (START, BASELINE_DAYS) if scenario is None else (
        START + pd.Timedelta(days=BASELINE_DAYS), TRAFFIC_DAYS)

    restaurant = rng.integers(0, RESTAURANTS, rows)
    hour = rng.choice(24, size=rows, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    distance = rng.gamma(2.0, 1.6, rows) * (2.0 if scenario == "suburb_expansion" else 1.0)
    basket = 1 + rng.poisson(2.5 * (3.0 if scenario == "party_season" else 1.0), rows)
    rush = np.isin(hour, list(RUSH_HOURS))
    prep = prep_typical[restaurant] * (1.6 if scenario == "kitchen_slowdown" else 1.0)
    prep = prep * (1 + 0.04 * (basket - 1)) * np.where(rush, 1.3, 1.0)
    speed_kmh = np.where(rush, 14.0, 22.0)
    minutes = prep + 60 * distance / speed_kmh + 3 + rng.gamma(2.0, 1.5, rows)

    day = rng.integers(0, days, rows)
    seconds = rng.integers(0, 3600, rows)
    ts = start + pd.to_timedelta(day, unit="D") + pd.to_timedelta(hour, unit="h") + pd.to_timedelta(seconds, unit="s")
    return pd.DataFrame({
        "order_id": [f"o{seed}-{scenario or 'baseline'}-{i}" for i in range(rows)],
        "restaurant_id": restaurant.astype("int64") + 1,
        "event_timestamp": ts,
        "distance_km": np.round(distance, 2),
        "basket_items": basket.astype("int64"),
        "hour": hour.astype("int64"),
        "delivery_minutes": np.round(minutes, 1),
        # known once the courier hands the order over, plus the tracking feed's lag
        "label_available_at": ts + pd.to_timedelta(minutes + 15, unit="m"),
    }).sort_values("event_timestamp", kind="stable").reset_index(drop=True)


def build_restaurant_features(orders: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Two offline tables, one per Feast source: daily kitchen statistics and hourly load.

    Kitchen statistics (mean delivery time of the delivered orders and orders over 7 days) are stamped at
    the end of each day; the load (orders in the last hour) at the end of each hour, so a point-in-
    time join gives an order exactly what was known before it was placed.
    """
    stamp = "event_timestamp"
    daily = (orders.assign(day=orders[stamp].dt.floor("D"))
             .groupby(["restaurant_id", "day"], as_index=False)
             .agg(orders=("delivery_minutes", "size"), delivered=("delivery_minutes", "count"),
                  total=("delivery_minutes", "sum")))
    columns = ["orders", "delivered", "total"]
    daily = daily.set_index("day").groupby("restaurant_id")[columns].rolling("7D").sum()
    # The mean is over delivered orders (a delivery time not known yet is a null), so a restaurant whose
    # week has no delivered order yet has no kitchen row.
    daily = daily.reset_index().query("delivered > 0")
    kitchen = pd.DataFrame({
        "restaurant_id": daily["restaurant_id"].astype("int64"),
        stamp: daily["day"] + pd.Timedelta(hours=23, minutes=59, seconds=59),
        "orders_7d": daily["orders"].astype("int64"),
        "avg_prep_minutes_7d": (daily["total"] / daily["delivered"]).round(2),
    })
    hourly = (orders.assign(hour_start=orders[stamp].dt.floor("h"))
              .groupby(["restaurant_id", "hour_start"], as_index=False)
              .agg(orders_last_hour=("delivery_minutes", "size")))
    load = pd.DataFrame({
        "restaurant_id": hourly["restaurant_id"].astype("int64"),
        stamp: hourly["hour_start"] + pd.Timedelta(minutes=59, seconds=59),
        "orders_last_hour": hourly["orders_last_hour"].astype("int64"),
    })
    for table in (kitchen, load):
        table["created_timestamp"] = table[stamp]
    return {"restaurant_kitchen_source": kitchen, "restaurant_load_source": load}
