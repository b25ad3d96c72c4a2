"""Options shared by several commands, so each is spelled and documented once."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def home_option(f: F) -> F:
    return click.option(
        "--home",
        type=click.Path(file_okay=False, path_type=Path),
        default=lambda: os.environ.get("UPLEVEL_HOME") or ".",
        show_default="$UPLEVEL_HOME, else the current directory",
        help="The product home.",
    )(f)


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(f)


def force_option(f: F) -> F:
    return click.option("--force", is_flag=True, help="Proceed even if the product seems to run.")(
        f
    )


def allow_special_option(f: F) -> F:
    return click.option(
        "--allow-special-files",
        "allow_special",
        is_flag=True,
        help="Allow set-user/group-ID files and symlinks out of the home (refused by default: "
        "product homes need neither).",
    )(f)


def server_options(f: F) -> F:
    f = click.option(
        "--token-file",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        help="File holding the subscriber token (else $UPLEVEL_TOKEN, else `uplevel login`'s).",
    )(f)
    return click.option(
        "--ca-bundle",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        help="CA certificates to trust for the server (else $UPLEVEL_CA_BUNDLE, else the system's).",
    )(f)


MAX_LEVEL = 1_000_000
"""Levels are counted one update at a time: a million is far past any product's life, and
a bound keeps a typo such as 999999999999999999999 out of the state."""

LEVEL = click.IntRange(0, MAX_LEVEL)


class ServerURL(click.ParamType[str]):
    """An update server's URL: http or https, a host, a port in 1..65535, no credentials.

    A bad URL is a usage error (exit 2), not a failure to connect. Credentials in the URL
    (`http://user:TOKEN@host`) are refused: they would be echoed and stored in state.json;
    the token goes in UPLEVEL_TOKEN, --token-file or `uplevel login`."""

    name = "url"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from urllib.parse import urlsplit

        text = str(value).strip()
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError as exc:
            self.fail(f"{text!r} is not a URL ({exc})", param, ctx)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.fail(f"{text!r} is not an http:// or https:// URL with a host", param, ctx)
        if port == 0:
            self.fail(f"{text!r}: port 0 is not a port", param, ctx)
        if parts.username is not None or parts.password is not None:
            self.fail(
                "the URL carries credentials: give the token through UPLEVEL_TOKEN, "
                "--token-file or `uplevel login`, never in the URL",
                param,
                ctx,
            )
        return text


SERVER_URL = ServerURL()
