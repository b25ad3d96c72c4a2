"""Running the update server: bind the socket, configure logging, run uvicorn until a signal.

The listening socket is bound here, before uvicorn starts, so that the URL announced is the
real one even with port 0 (any free port) and a supervisor or test can read it from the
first line of stdout. SIGTERM and SIGINT stop the server gracefully (requests in flight
finish, the timestamp task ends).
"""

from __future__ import annotations

import logging
import logging.handlers
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from uplevel.errors import UplevelError

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


def serve(
    repo: Path,
    *,
    host: str,
    port: int,
    tls_cert: Path | None,
    tls_key: Path | None,
    access_log: Path | None,
    refresh_interval: float,
    announce: Callable[[str], None],
) -> None:
    """Serve `repo` until SIGTERM or SIGINT. `announce(url)` is called once the socket
    listens; UplevelError if the server did not start."""
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
        announce(_url(sock, tls_cert is not None))
        server.run(sockets=[sock])
    except _Stopped:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    if not server.started:
        raise UplevelError("the server did not start (see the messages above)")
