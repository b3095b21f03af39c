"""Retraining is the training pipeline (pipelines/training.py), started with ``trigger="retraining"``,
a ``reason`` and an ``idempotency_key``: the same steps, windows, defaults and gate.

The name stays so the compiled package list and the KFP UI keep a "retraining" entry.
"""

from pipelines.training import training_pipeline as retraining_pipeline

__all__ = ["retraining_pipeline"]
