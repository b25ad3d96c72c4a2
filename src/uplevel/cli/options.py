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
