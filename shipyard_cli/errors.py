"""How the CLI ends: a user's mistake is one readable line and exit code 1; anything else keeps its traceback.

Commands raise ``UserError`` (a click exception) where they know what the user got wrong, and
``readable_errors`` turns the core's own user-facing errors (bad settings, GitOps refusals) into it.
Every other exception is a bug or an outage: its traceback goes to a log file named in the one line
printed (or to the terminal with ``--debug``), never silently into a friendly message.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from typing import Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from shipyard.settings import SettingsError
from shipyard.uris import mask_passwords

console = Console(soft_wrap=True)  # never wrap inside a path; rich drops colour codes when piped
error_console = Console(stderr=True, soft_wrap=True, highlight=False)
DEBUG_FLAG = "--debug"


class UserError(Exception):
    """A problem the user can fix; its message is the whole story."""

    exit_code = 1

    def format_message(self) -> str:
        return str(self)


def _is_click_error(exc: BaseException) -> bool:
    # typer 0.29 vendors click privately: its option and usage errors are public only as
    # ``typer.BadParameter``, so they are recognised by click's public exception interface instead of
    # by class (tests/unit/test_cli_errors.py fails if that interface changes).
    return callable(getattr(exc, "format_message", None)) and isinstance(getattr(exc, "exit_code", None), int)


def _core_user_errors() -> tuple[type[BaseException], ...]:
    from shipyard.gitops import GitOpsError

    return (SettingsError, GitOpsError)


def readable_errors(command):
    """Translate the core's user-facing errors into ``UserError``; everything else propagates."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except _core_user_errors() as exc:
            raise UserError(str(exc)) from exc
    return wrapper


@contextlib.contextmanager
def as_user_error(*kinds: type[BaseException]):
    """Inside, an exception of ``kinds`` is the user's to fix (the caller knows it): one line, exit 1."""
    try:
        yield
    except kinds as exc:
        raise UserError(str(exc)) from exc


def _say(message: str) -> None:
    error_console.print(mask_passwords(message), markup=False)  # a URI in a message keeps its password hidden


def _unexpected(exc: BaseException) -> None:
    """One line naming the failure and where its traceback is; the traceback itself in that file."""
    fd, path = tempfile.mkstemp(prefix="shipyard-error-", suffix=".log")
    with os.fdopen(fd, "w") as log:
        traceback.print_exception(exc, file=log)
    _say(f"error: unexpected {type(exc).__name__}: {exc} (traceback in {path}; rerun with {DEBUG_FLAG} to "
         "see it here)")


class OneLineErrors(TyperGroup):
    """The top-level group: every way a command can fail ends the same documented way."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        debug = DEBUG_FLAG in argv or os.environ.get("SHIPYARD_DEBUG", "").lower() in ("1", "true")
        argv = [a for a in argv if a != DEBUG_FLAG]
        try:
            result = super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
            code = result if isinstance(result, int) else 0
        except typer.Abort:
            _say("error: aborted")
            code = 130
        except typer.Exit as exc:
            code = exc.exit_code
        except Exception as exc:
            if _is_click_error(exc) or isinstance(exc, UserError):
                context = getattr(exc, "ctx", None)  # set on usage errors: point at the command's help
                where = f" (see `{context.command_path} --help`)" if context is not None else ""
                _say(f"error: {exc.format_message()}{where}")
                code = 1  # option errors follow the same rule as every other mistake (click would say 2)
            elif debug:
                raise
            else:
                _unexpected(exc)
                code = 1
        if standalone_mode:
            sys.exit(code)
        return code
