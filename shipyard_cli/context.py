"""The settings and use case every command works with, read once per command from the environment."""

from __future__ import annotations

from shipyard.settings import Settings, SettingsError
from shipyard.usecase import DriftScenario, UseCase, load_use_case
from shipyard_cli.errors import UserError


def context() -> tuple[Settings, UseCase]:
    try:
        settings = Settings.from_env()
        return settings, load_use_case(settings.use_case)
    except (SettingsError, ValueError) as exc:  # a bad variable, an unknown use case: the user's to fix
        raise UserError(str(exc)) from exc


def scenario_of(use_case: UseCase, name: str) -> DriftScenario:
    try:
        return use_case.scenario(name)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
