"""Feast feature definitions, one module per use case, and the feature_store*.yaml configs."""
