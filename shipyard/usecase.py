"""What a use case declares, so pipelines, serving and monitoring stay use-case agnostic.

A use case is one module under ``shipyard.usecases`` exposing ``USE_CASE`` plus its Feast
definitions under ``feature_repo/``. The online feature list is never written here: it comes from
the Feast FeatureService named by ``feature_service`` (the single feature contract).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

FieldKind = Literal["int", "float", "category"]


@dataclass(frozen=True)
class RequestField:
    """A field that arrives with each scoring request (not looked up in the feature store)."""

    name: str
    kind: FieldKind
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class DriftScenario:
    name: str
    description: str
    shifted_columns: tuple[str, ...]


@dataclass(frozen=True)
class UseCase:
    name: str
    model_name: str
    entity: str
    feature_service: str
    feature_module: str  # module under feature_repo/ with the Feast definitions
    request_fields: tuple[RequestField, ...]
    label: str
    timestamp: str
    # generate(rows, seed, scenario) -> labelled events; build_features(events) -> offline feature table
    generate: Callable[[int, int, str | None], pd.DataFrame]
    build_features: Callable[[pd.DataFrame], pd.DataFrame]
    scenarios: dict[str, DriftScenario] = field(default_factory=dict)

    @property
    def model_request_fields(self) -> tuple[RequestField, ...]:
        """Request fields the model consumes (the entity key only selects features)."""
        return tuple(f for f in self.request_fields if f.name != self.entity)

    def categorical_columns(self) -> list[str]:
        return [f.name for f in self.model_request_fields if f.kind == "category"]

    def scenario(self, name: str) -> DriftScenario:
        if name not in self.scenarios:
            known = ", ".join(sorted(self.scenarios))
            raise ValueError(f"unknown drift scenario {name!r}; known: {known}")
        return self.scenarios[name]


def load_use_case(name: str) -> UseCase:
    try:
        module = importlib.import_module(f"shipyard.usecases.{name}")
    except ModuleNotFoundError as exc:
        raise ValueError(f"unknown use case {name!r}") from exc
    return module.USE_CASE
