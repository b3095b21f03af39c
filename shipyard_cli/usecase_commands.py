"""`shipyard new-use-case` and `shipyard use-case check`: use cases are plug-ins the platform checks."""

from __future__ import annotations

from pathlib import Path

import typer

from shipyard_cli.errors import UserError, console

use_case_app = typer.Typer(help="Use cases: the plug-ins that say what is predicted.", no_args_is_help=True)


def new_use_case(name: str = typer.Argument(..., help="Name of the use case (a lowercase Python identifier)."),
                 entity: str = typer.Option("entity_id", help="Join key of the entity a prediction is about."),
                 directory: Path = typer.Option(Path("usecases"), "--dir", help="Folder of use-case packages.")):
    """Scaffold a use-case package (contract, generator stub, Feast definitions) that passes the checks."""
    from shipyard_cli.scaffold import ScaffoldError, scaffold_use_case

    try:
        written = scaffold_use_case(name, directory, entity=entity)
    except ScaffoldError as exc:
        raise UserError(str(exc)) from exc
    for path in written:
        console.print(f"wrote {path.resolve()}")
    console.print(f"check it with: SHIPYARD_USE_CASE={name} shipyard use-case check")
    console.print(f"to deploy it: register it under the `shipyard.use_cases` entry points, then "
                  f"`make manifests-generate` writes manifests/usecases/{name}/ and its pins")


@use_case_app.command("check")
def check(name: str = typer.Argument(None, help="Use case to check (default: SHIPYARD_USE_CASE).")):
    """Check that a use case's contract, Feast definitions and generated data agree."""
    from shipyard.usecase import load_use_case
    from shipyard.usecase_checks import check_use_case
    from shipyard_cli.context import context

    try:
        use_case = load_use_case(name) if name else context()[1]
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    with console.status(f"checking use case {use_case.name}"):
        report = check_use_case(use_case)
    if not report.passed:
        raise UserError(f"use case {use_case.name!r} breaks the contract: " + "; ".join(report.problems))
    console.print(f"use case {use_case.name!r} passes the contract checks")


@use_case_app.command("list")
def list_use_cases():
    """The use cases installed (entry point group shipyard.use_cases)."""
    from shipyard.usecase import available_use_cases

    for name in available_use_cases():
        console.print(name)


def register(app: typer.Typer) -> None:
    app.command("new-use-case")(new_use_case)
    app.add_typer(use_case_app, name="use-case")
