"""`shipyard promote`, `shipyard rollback` and `shipyard canary verdict`: model versions move by commit."""

from __future__ import annotations

from pathlib import Path

import typer

from shipyard_cli.errors import UserError, console, readable_errors

canary_app = typer.Typer(help="Canary analysis on Prometheus signals.", no_args_is_help=True)
ENV_HELP = "Environment overlay: dev, staging or prod."


def _metrics(pairs: list[str]) -> dict[str, float]:
    metrics = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        try:
            metrics[name] = float(value)
        except ValueError:
            raise UserError(f"--metric takes NAME=NUMBER, got {pair!r}") from None
    return metrics


def _model(model: str | None) -> str:
    """The model name: as given, else the selected use case's (SHIPYARD_USE_CASE)."""
    if model:
        return model
    from shipyard.settings import Settings
    from shipyard.usecase import load_use_case

    return load_use_case(Settings.from_env().use_case).model_name


MODEL_HELP = "Registered model name (default: the selected use case's model)."


@readable_errors
def promote(env: str = typer.Option(..., help=ENV_HELP), version: int = typer.Option(..., min=1),
            model: str = typer.Option(None, help=MODEL_HELP),
            run_id: str = typer.Option(None, help="Pipeline run to cite (default: the one that registered it)."),
            metric: list[str] = typer.Option([], help="NAME=VALUE to cite (default: the registered metrics)."),
            branch: str = typer.Option(None), push: bool = typer.Option(False, "--push/--no-push"),
            repo: Path = typer.Option(Path("."), help="Git checkout holding manifests/.")):
    """Pin a gated model version in an overlay, as a one-line commit on a branch (checkout untouched)."""
    from components.promote import gated_version
    from shipyard import gitops
    from shipyard.settings import Settings

    cited = _metrics(metric)
    model = _model(model)
    gated = gated_version(Settings.from_env(), model, version)  # refuses unknown and ungated versions
    console.print(gitops.promote(repo, env, version, model=model, metrics=cited or gated.metrics,
                                 run_id=run_id or gated.pipeline_run, reason=gated.reason, branch=branch,
                                 push=push).describe(), highlight=False, soft_wrap=True)


@readable_errors
def rollback(env: str = typer.Option(..., help=ENV_HELP), model: str = typer.Option(None, help=MODEL_HELP),
             reason: str = typer.Option(None), branch: str = typer.Option(None),
             push: bool = typer.Option(False, "--push/--no-push"), repo: Path = typer.Option(Path("."))):
    """Pin the version the overlay served before, as a one-line commit."""
    from shipyard import gitops

    console.print(gitops.rollback(repo, env, model=_model(model), reason=reason, branch=branch,
                                  push=push).describe(), highlight=False, soft_wrap=True)


@canary_app.command("verdict")
@readable_errors
def canary_verdict(env: str = typer.Option(..., help=ENV_HELP),
                   prometheus_url: str = typer.Option(..., help="Prometheus base URL."),
                   window: str = typer.Option("15m"), model: str = typer.Option(None, help=MODEL_HELP),
                   min_requests: int = typer.Option(200, min=1, help="Canary requests needed before deciding."),
                   dry_run: bool = typer.Option(False, help="Decide, but commit nothing."),
                   branch: str = typer.Option(None), push: bool = typer.Option(False, "--push/--no-push"),
                   repo: Path = typer.Option(Path("."))):
    """Compare canary and stable (errors, latency, prediction drift) and commit promote or rollback."""
    from shipyard import gitops

    thresholds = gitops.CanaryThresholds(min_requests=min_requests)
    verdict, info = gitops.run_canary_verdict(repo, env, prometheus_url, model=_model(model), window=window,
                                              thresholds=thresholds, commit=not dry_run, branch=branch, push=push)
    console.print(f"verdict: {verdict.decision}")
    for reason in verdict.reasons:
        console.print(f"  - {reason}")
    if info is not None:
        console.print(info.describe(), highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("promote")(promote)
    app.command("rollback")(rollback)
    app.add_typer(canary_app, name="canary")
