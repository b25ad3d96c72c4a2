"""The `uplevel` group: global options, and the module each command lives in.

The operator's commands (home.py, update.py, merge.py) are registered at once; they import
their use cases only when run. The heavier groups (publisher, server, pack, migrate) are
imported on first use, so `uplevel status` does not pay for FastAPI or TUF.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import ClassVar

import click

from uplevel import DISTRIBUTION, __version__
from uplevel.cli import home, merge, update


class LazyGroup(click.Group):
    """A group whose heavier subcommands live in their own modules, imported when used.

    A module that fails to import is a broken installation: the ImportError is raised as
    it is (with its traceback), never shown as "No such command"."""

    lazy: ClassVar[dict[str, str]] = {
        "bundle": "uplevel.cli.publish:bundle",
        "repo": "uplevel.cli.publish:repo",
        "serve": "uplevel.cli.serve:serve",
        "pack": "uplevel.cli.pack:pack",
        "migrate": "uplevel.cli.migrate:migrate",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy and name not in self.commands:
            module, attr = self.lazy[name].split(":")
            command = getattr(importlib.import_module(module), attr)
            assert isinstance(command, click.Command)
            self.add_command(command, name)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__, prog_name="uplevel", message=f"%(prog)s %(version)s (distribution {DISTRIBUTION})"
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1, max=7 * 86400),
    envvar="UPLEVEL_TIMEOUT",
    help="Seconds to wait for a server to connect or to send more bytes (default 30; "
    "env UPLEVEL_TIMEOUT). UPLEVEL_DEADLINE (default 3600 s per request) and "
    "UPLEVEL_MIN_RATE (default 1024 bytes/s) bound slow transfers.",
)
@click.pass_context
def cli(ctx: click.Context, debug: bool, timeout: float | None) -> None:
    """uplevel: bring a Java server product home to a newer update level, in place and safely.

    Exit codes: 0 done, 1 failed (the home is as it was), 2 usage error,
    3 stopped on conflicts, 4 the product runs or another uplevel holds the home,
    130/143 interrupted by SIGINT/SIGTERM before the commit point (the home is as it
    was; a signal after it lets the change finish); `verify` 1 local changes, `merge`
    1 conflicts, `check --exit-code` 100 updates / 101 security updates pending.
    docs/json-output.md has the table.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    if timeout is not None:  # read by every network client (client/fetch.FetchConfig)
        os.environ["UPLEVEL_TIMEOUT"] = repr(timeout)


for _command in (
    home.init,
    home.status,
    home.verify,
    home.history,
    home.profile_cmd,
    home.revert,
    home.prune,
    update.apply,
    update.continue_cmd,
    update.abort,
    update.check,
    update.update,
    update.summary,
    update.export,
    update.login,
    merge.merge_cmd,
):
    cli.add_command(_command)


@cli.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to build the demo (default: a new temp dir).",
)
@click.pass_context
def demo(ctx: click.Context, workdir: Path | None) -> None:
    """Run the whole flow on a generated sample product (what the README's first command does)."""
    from uplevel.devtools import demo as demo_mod

    sys.exit(demo_mod.main(workdir))


def main() -> None:
    from uplevel.engine import interrupt

    interrupt.install()
    try:
        cli(obj={})
    except interrupt.Interrupted as stop:  # outside any command's frame (parsing, imports)
        click.echo(f"uplevel: interrupted by {stop.name}", err=True)
        sys.exit(stop.exit_code)
