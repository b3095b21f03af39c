"""What a use case declares, so pipelines, serving and monitoring stay use-case agnostic.

A use case is a package outside the platform (``usecases/<name>/`` in this repository, or any
installed package registering a ``shipyard.use_cases`` entry point) exposing ``USE_CASE``, its data
generator and its Feast definitions. The online feature list is never written here: it comes from
the Feast FeatureService named by ``feature_service`` (the single feature contract).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Literal

import pandas as pd

FieldKind = Literal["int", "float", "category"]
Task = Literal["binary_classification", "regression"]


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
    feature_module: str  # importable module holding the use case's Feast definitions
    request_fields: tuple[RequestField, ...]
    label: str
    timestamp: str
    # generate(rows, seed, scenario) -> labelled events; build_features(events) -> the offline feature
    # table, or one table per Feast source (keyed by the source's name) when the views read several
    generate: Callable[[int, int, str | None], pd.DataFrame]
    build_features: Callable[[pd.DataFrame], pd.DataFrame | dict[str, pd.DataFrame]]
    scenarios: dict[str, DriftScenario] = field(default_factory=dict)
    task: Task = "binary_classification"  # regression: a continuous label, lower error is better
    event_id: str = "transaction_id"  # the generated events' id column (joins an event to its late label)
    # Regression only: the largest mean absolute error (in the label's unit) the champion gate accepts;
    # None leaves only the pipeline's ``max_mae`` and "better than predicting a constant".
    max_mae: float | None = None

    @property
    def output_name(self) -> str:
        """Name of the served prediction: the positive class's probability, or the predicted label."""
        suffix = "probability" if self.task == "binary_classification" else self.label
        return f"{self.model_name}_{suffix}"

    demo_scenario: str | None = None  # the scenario `shipyard demo` replays: one that degrades the champion
    # Days until nearly every event's label is known (a chargeback: weeks; a measured duration: the same
    # day): the training pipeline's evaluation window ends this long before its snapshot time.
    label_delay_days: int = 14

    @property
    def is_regression(self) -> bool:
        return self.task == "regression"

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


ENTRY_POINT_GROUP = "shipyard.use_cases"


def available_use_cases() -> list[str]:
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def load_use_case(name: str) -> UseCase:
    """The use case registered under ``name`` (entry point), else the package ``usecases.<name>``."""
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=name):
        return ep.load()
    try:
        module = importlib.import_module(f"usecases.{name}")
    except ModuleNotFoundError as exc:
        if exc.name not in ("usecases", f"usecases.{name}"):
            raise  # the use case exists but one of its own imports is missing
        known = ", ".join(available_use_cases()) or "none installed"
        raise ValueError(f"unknown use case {name!r} (known: {known})") from exc
    return module.USE_CASE
