"""The platform's checks of a use case: what every stage relies on, verified before any stage runs.

A use case passes when its contract, its Feast definitions and its generated data agree: the feature
service exists, the entity is a request field, every drift scenario names columns the model sees,
and the generator's events and feature table carry the columns training, serving and monitoring read.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from shipyard.usecase import UseCase

SAMPLE_ROWS = 300


@dataclass(frozen=True)
class ContractReport:
    use_case: str
    problems: list[str]

    @property
    def passed(self) -> bool:
        return not self.problems


def check_use_case(use_case: UseCase, sample_rows: int = SAMPLE_ROWS) -> ContractReport:
    problems = _contract_problems(use_case)
    problems += _feast_problems(use_case)
    if not problems:  # the data checks need a consistent contract to mean anything
        problems += _data_problems(use_case, sample_rows)
    return ContractReport(use_case.name, problems)


def _contract_problems(use_case: UseCase) -> list[str]:
    problems = []
    names = [f.name for f in use_case.request_fields]
    if len(set(names)) != len(names):
        problems.append(f"request fields repeat a name: {names}")
    if use_case.entity not in names:
        problems.append(f"the entity {use_case.entity!r} is not a request field (serving could not look it up)")
    for f in use_case.request_fields:
        if f.minimum is not None and f.maximum is not None and f.minimum > f.maximum:
            problems.append(f"request field {f.name!r}: minimum {f.minimum} is above maximum {f.maximum}")
    if use_case.label_delay_days < 0:
        problems.append(f"label_delay_days must be 0 or more, got {use_case.label_delay_days}")
    if use_case.label in names or use_case.timestamp in names:
        problems.append("the label and the timestamp must not be request fields")
    return problems


def _feast_problems(use_case: UseCase) -> list[str]:
    from feast import Entity, FeatureService

    try:
        module = importlib.import_module(use_case.feature_module)
    except ImportError as exc:
        return [f"Feast definitions module {use_case.feature_module!r} does not import: {exc}"]
    objects = list(vars(module).values())
    services = {o.name: o for o in objects if isinstance(o, FeatureService)}
    if use_case.feature_service not in services:
        return [f"feature service {use_case.feature_service!r} is not defined in {use_case.feature_module}"]
    join_keys = {o.join_key for o in objects if isinstance(o, Entity)}
    problems = []
    if use_case.entity not in join_keys:
        problems.append(f"no Feast entity has the join key {use_case.entity!r}")
    feature_names = _service_features(services[use_case.feature_service])
    request = {f.name for f in use_case.request_fields}
    if overlap := request & set(feature_names):
        problems.append(f"columns both in the request and in the feature service: {sorted(overlap)}")
    model_columns = {f.name for f in use_case.model_request_fields} | set(feature_names)
    for scenario in use_case.scenarios.values():
        if unknown := set(scenario.shifted_columns) - model_columns:
            problems.append(f"scenario {scenario.name!r} shifts columns the model does not see: {sorted(unknown)}")
    return problems


def _service_features(service) -> list[str]:
    return [f.name for projection in service.feature_view_projections for f in projection.features]


def _data_problems(use_case: UseCase, rows: int) -> list[str]:
    problems = []
    needed = [f.name for f in use_case.request_fields] + [use_case.event_id, use_case.label, use_case.timestamp,
                                                           "label_available_at"]
    for scenario in (None, *use_case.scenarios):
        events = use_case.generate(rows, 0, scenario)
        if missing := [c for c in needed if c not in events.columns]:
            problems.append(f"generated events ({scenario or 'baseline'}) lack columns {missing}")
        elif events[use_case.event_id].duplicated().any():
            problems.append(f"generated events ({scenario or 'baseline'}) repeat {use_case.event_id!r} values "
                            "(the id joins a prediction to its late label)")
        elif events[use_case.label].isna().any():
            problems.append(f"generated events ({scenario or 'baseline'}) have rows without a label")
        elif use_case.task == "binary_classification" and not set(events[use_case.label].unique()) <= {0, 1}:
            problems.append(f"the label {use_case.label!r} of a binary classification must be 0 or 1")
        elif use_case.task == "regression" and events[use_case.label].dtype.kind not in "fi":
            problems.append(f"the label {use_case.label!r} of a regression must be numeric")
    if problems:
        return problems
    tables = use_case.build_features(use_case.generate(rows, 0, None))
    for source, columns in _expected_tables(use_case).items():
        table = tables if not isinstance(tables, dict) else tables.get(source)
        if table is None:
            problems.append(f"build_features returns no table for the Feast source {source!r}")
        elif missing := [c for c in columns if c not in table.columns]:
            problems.append(f"the offline table of {source!r} lacks columns {missing}")
    return problems


def _expected_tables(use_case: UseCase) -> dict[str, list[str]]:
    """Feast source name -> the columns its table needs (entity, timestamp, the service's features)."""
    from feast import FeatureService

    module = importlib.import_module(use_case.feature_module)
    service = next(o for o in vars(module).values()
                   if isinstance(o, FeatureService) and o.name == use_case.feature_service)
    views = {o.name: o for o in vars(module).values() if hasattr(o, "batch_source") and hasattr(o, "features")}
    expected: dict[str, list[str]] = {}
    for projection in service.feature_view_projections:
        view = views.get(projection.name)
        source = view.batch_source.name if view is not None and view.batch_source is not None else projection.name
        columns = expected.setdefault(source, [use_case.entity, use_case.timestamp])
        columns += [f.name for f in projection.features]
    return expected
