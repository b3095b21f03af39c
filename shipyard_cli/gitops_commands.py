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


def _report(info) -> None:
    console.print(f"committed {info.path}: {info.old_value} -> {info.new_value} on branch {info.branch} "
                  f"({info.sha[:12]}){' and pushed' if info.pushed else ''}")


@readable_errors
def promote(env: str = typer.Option(..., help=ENV_HELP), version: int = typer.Option(..., min=1),
            model: str = typer.Option("fraud"), run_id: str = typer.Option(None, help="Pipeline run to cite."),
            metric: list[str] = typer.Option([], help="NAME=VALUE to cite in the commit (repeatable)."),
            branch: str = typer.Option(None), push: bool = typer.Option(False, "--push/--no-push"),
            repo: Path = typer.Option(Path("."), help="Git checkout holding manifests/.")):
    """Pin a model version in an overlay and commit that one-line change on a branch."""
    from shipyard import gitops

    _report(gitops.promote(repo, env, version, model=model, metrics=_metrics(metric), run_id=run_id,
                           branch=branch, push=push))


@readable_errors
def rollback(env: str = typer.Option(..., help=ENV_HELP), model: str = typer.Option("fraud"),
             reason: str = typer.Option(None), branch: str = typer.Option(None),
             push: bool = typer.Option(False, "--push/--no-push"), repo: Path = typer.Option(Path("."))):
    """Pin the version the overlay served before, as a one-line commit."""
    from shipyard import gitops

    _report(gitops.rollback(repo, env, model=model, reason=reason, branch=branch, push=push))


@canary_app.command("verdict")
@readable_errors
def canary_verdict(env: str = typer.Option(..., help=ENV_HELP),
                   prometheus_url: str = typer.Option(..., help="Prometheus base URL."),
                   window: str = typer.Option("15m"), model: str = typer.Option("fraud"),
                   dry_run: bool = typer.Option(False, help="Decide, but commit nothing."),
                   branch: str = typer.Option(None), push: bool = typer.Option(False, "--push/--no-push"),
                   repo: Path = typer.Option(Path("."))):
    """Compare canary and stable (errors, latency, prediction drift) and commit promote or rollback."""
    from shipyard import gitops

    verdict, info = gitops.run_canary_verdict(repo, env, prometheus_url, model=model, window=window,
                                              commit=not dry_run, branch=branch, push=push)
    console.print(f"verdict: {verdict.decision}")
    for reason in verdict.reasons:
        console.print(f"  - {reason}")
    if info is not None:
        _report(info)


def register(app: typer.Typer) -> None:
    app.command("promote")(promote)
    app.command("rollback")(rollback)
    app.add_typer(canary_app, name="canary")
