"""The settings and use case every command works with, read once per command from the environment."""

from __future__ import annotations

from shipyard.settings import Settings, SettingsError, check_reachable
from shipyard.usecase import DriftScenario, UseCase, load_use_case
from shipyard_cli.errors import UserError


def context(component: str | None = None) -> tuple[Settings, UseCase]:
    """The settings of ``component`` (only its variables, its services checked at start-up), or of the
    CLI as a whole (every variable, nothing checked) when None; a bad setting or an unknown use case
    is the user's to fix."""
    try:
        if component is None:
            settings = Settings.from_env()
        else:
            settings = Settings.from_env(component=component)
            check_reachable(settings)
        return settings, load_use_case(settings.use_case)
    except (SettingsError, ValueError) as exc:
        raise UserError(str(exc)) from exc


def scenario_of(use_case: UseCase, name: str) -> DriftScenario:
    try:
        return use_case.scenario(name)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
