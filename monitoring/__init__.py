"""Drift monitoring: Evidently drift over prediction-log windows, exported as Prometheus metrics."""
