"""`uplevel serve REPO`: parse, run the update server (uplevel.server.run), report.

Imported lazily by uplevel.cli.app.LazyGroup, so operator commands never pay for FastAPI.
The first line of stdout is the URL served (a supervisor or test reads it); the command
exits 0 when SIGTERM or SIGINT stopped the server.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from uplevel.cli.output import run
from uplevel.errors import UsageError


@click.command()
@click.argument("repo", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8700,
    show_default=True,
    help="Port to listen on (0: any free port; the printed URL says which).",
)
@click.option(
    "--tls-cert",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="PEM certificate (chain) for HTTPS; needs --tls-key.",
)
@click.option(
    "--tls-key",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="PEM private key of --tls-cert.",
)
@click.option(
    "--access-log",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append one JSON line per request to this file (default: stderr).",
)
@click.option(
    "--refresh-interval",
    type=click.FloatRange(min=0.1),
    default=300.0,
    show_default=True,
    help="Seconds between checks of timestamp.json's remaining lifetime.",
)
@click.pass_context
def serve(
    ctx: click.Context,
    repo: Path,
    host: str,
    port: int,
    tls_cert: Path | None,
    tls_key: Path | None,
    access_log: Path | None,
    refresh_interval: float,
) -> None:
    """Serve REPO over HTTP(S) (docs/repository.md) until SIGTERM or Ctrl-C.

    Re-signs timestamp.json with the online key when less than half of its
    lifetime is left. In production, put nginx in front (deploy/nginx/).
    """
    with run(ctx, "serve", False):
        if (tls_cert is None) != (tls_key is None):
            raise UsageError("--tls-cert and --tls-key go together")
        from uplevel.server.run import serve as run_server

        def announce(url: str) -> None:
            click.echo(f"uplevel serve: {repo} at {url}")
            sys.stdout.flush()

        run_server(
            repo,
            host=host,
            port=port,
            tls_cert=tls_cert,
            tls_key=tls_key,
            access_log=access_log,
            refresh_interval=refresh_interval,
            announce=announce,
        )
        click.echo("uplevel serve: stopped")
