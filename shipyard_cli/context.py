"""The settings and use case every command works with."""

from __future__ import annotations

from shipyard.settings import Settings, check_reachable, get_settings
from shipyard.usecase import UseCase, load_use_case


def context(component: str | None = None) -> tuple[Settings, UseCase]:
    """The settings of ``component`` (only its variables, its services checked at start-up), or of the
    CLI as a whole (every variable, nothing checked) when None."""
    if component is None:
        settings = get_settings()
    else:
        settings = Settings.from_env(component=component)
        check_reachable(settings)
    return settings, load_use_case(settings.use_case)
