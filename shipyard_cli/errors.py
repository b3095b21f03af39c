"""One console for the CLI, and the rule that a user's mistake is one readable line and exit code 1."""

from __future__ import annotations

import functools

import typer
from rich.console import Console

from shipyard.settings import SettingsError
from shipyard.uris import mask_passwords

console = Console()


class UserError(Exception):
    """A problem the user can fix; its message is the whole story."""


def _user_errors() -> tuple[type[BaseException], ...]:
    from shipyard.gitops import GitOpsError

    return (SettingsError, UserError, ValueError, LookupError, FileNotFoundError, ConnectionError, GitOpsError)


def readable_errors(command):
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except _user_errors() as exc:
            console.print(f"[red]error:[/red] {mask_passwords(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
    return wrapper
