"""The settings and use case every command works with."""

from __future__ import annotations

from shipyard.settings import Settings, get_settings
from shipyard.usecase import UseCase, load_use_case


def context() -> tuple[Settings, UseCase]:
    settings = get_settings()
    return settings, load_use_case(settings.use_case)
