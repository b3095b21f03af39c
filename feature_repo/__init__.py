"""Feast infrastructure configs (feature_store*.yaml); each use case keeps its own definitions."""
