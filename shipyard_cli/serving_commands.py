"""`shipyard serve`: the KServe predictor."""

from __future__ import annotations

import typer

from shipyard_cli.context import context
from shipyard_cli.errors import readable_errors


@readable_errors
def serve(port: int = typer.Option(8080, help="HTTP port of the KServe ModelServer.")):
    """Serve the champion (or SHIPYARD_MODEL_VERSION) with KServe and Feast online features."""
    from components.serving.server import serve as serve_model

    settings, use_case = context("predictor")
    serve_model(settings, use_case, port)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
