"""`shipyard serve`: the KServe predictor."""

from __future__ import annotations

import typer

from shipyard_cli.context import context
from shipyard_cli.errors import UserError, readable_errors


@readable_errors
def serve(
    port: int = typer.Option(8080, help="HTTP port of the KServe ModelServer."),
    grpc_port: int = typer.Option(
        0, help="Port of KServe's gRPC (Open Inference Protocol) server; 0: off (KServe serverless exposes one port)."
    ),
    fast_path: bool = typer.Option(True, help="Answer JSON scoring requests before KServe's data plane."),
    drain_seconds: float = typer.Option(
        5.0, min=0.0,
        help="After SIGTERM: report not-ready but keep answering this long, then close connections."),
    grace_seconds: int = typer.Option(30, min=1, help="Then at most this long to finish requests in flight."),
    ssl_certfile: str = typer.Option(None, help="Serve HTTPS with this certificate (KServe's --ssl_certfile)."),
    ssl_keyfile: str = typer.Option(None, help="Private key of --ssl-certfile."),
    access_log_format: str = typer.Option(None, help="KServe's access log format (asgi-logger fields)."),
    access_log: bool = typer.Option(False, help="uvicorn's default access log (costs throughput)."),
    workers: int = typer.Option(
        1, min=1, help="REST worker processes (KServe's --workers); each loads the model and writes its own "
                       "prediction log files, /metrics sums them."),
):
    """Serve the champion (or SHIPYARD_MODEL_VERSION) with KServe and Feast online features."""
    from components.serving.server import ServeOptions, multiprocess_metrics_dir
    from components.serving.server import serve as serve_model

    multiprocess_metrics_dir(workers)  # before anything imports prometheus_client

    for name, number in (("--port", port), ("--grpc-port", grpc_port)):
        if number:
            check_port_free(name, number)  # before seconds of loading the model, not after
    settings, use_case = context("predictor")
    serve_model(settings, use_case, ServeOptions(
        port=port, grpc_port=grpc_port, fast_path=fast_path, drain_seconds=drain_seconds,
        grace_seconds=grace_seconds, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile,
        access_log_format=access_log_format, access_log=access_log, workers=workers))


def check_port_free(option: str, port: int) -> None:
    """Fail with one line when another process already listens on ``port`` (all interfaces, as KServe binds)."""
    import errno
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a port in TIME_WAIT is free to serve
        try:
            probe.bind(("0.0.0.0", port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise UserError(f"port {port} is already in use: stop what listens there or pass {option} "
                            "with a free port") from None


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
