"""`uplevel serve REPO`: run the update server (uplevel.server) under uvicorn.

Imported lazily by uplevel.cli.app.LazyGroup, so operator commands never pay for
FastAPI. The listening socket is bound here, before uvicorn starts, so that the
URL printed is the real one even with `--port 0` (any free port) and a supervisor
or test can read it from the first line of stdout. SIGTERM and SIGINT stop the
server gracefully (requests in flight finish, the timestamp task ends) and the
command exits 0.
"""

from __future__ import annotations

import logging
import logging.handlers
import signal
import socket
import sys
from pathlib import Path
from types import FrameType

import click

from uplevel.cli.output import run
from uplevel.errors import UplevelError, UsageError

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_GRACEFUL_SECONDS = 10


class _Stopped(Exception):
    """Raised by our signal handler when uvicorn re-raises the signal that stopped it."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise _Stopped(signum)


def _listen(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except BaseException:
        sock.close()
        raise
    return sock


def _url(sock: socket.socket, tls: bool) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}"


def _configure_logging(access_log: Path | None) -> None:
    """Access lines (JSON) to --access-log or stderr; the server's own messages to stderr.

    WatchedFileHandler reopens the file when logrotate moves it away.
    """
    access = logging.getLogger("uplevel.server.access")
    handler: logging.Handler = (
        logging.handlers.WatchedFileHandler(access_log, encoding="utf-8")
        if access_log is not None
        else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(logging.Formatter("%(message)s"))
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False
    messages = logging.StreamHandler(sys.stderr)
    messages.setFormatter(logging.Formatter("uplevel serve: %(levelname)s: %(message)s"))
    for name, level in (("uplevel.server", logging.INFO), ("uvicorn", logging.WARNING)):
        logger = logging.getLogger(name)
        logger.addHandler(messages)
        logger.setLevel(level)
        logger.propagate = False


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
        import uvicorn

        from uplevel.server.app import create_app

        app = create_app(repo, refresh_interval=refresh_interval)
        _configure_logging(access_log)
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            ssl_certfile=str(tls_cert) if tls_cert else None,
            ssl_keyfile=str(tls_key) if tls_key else None,
            log_config=None,
            log_level="warning",
            access_log=False,
            server_header=False,
            lifespan="on",
            timeout_graceful_shutdown=_GRACEFUL_SECONDS,
        )
        server = uvicorn.Server(config)
        sock = _listen(host, port)
        previous = {sig: signal.signal(sig, _stop) for sig in _STOP_SIGNALS}
        try:
            click.echo(f"uplevel serve: {repo} at {_url(sock, tls_cert is not None)}")
            sys.stdout.flush()
            server.run(sockets=[sock])
        except _Stopped:
            pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            sock.close()
        if not server.started:
            raise UplevelError("the server did not start (see the messages above)")
        click.echo("uplevel serve: stopped")
