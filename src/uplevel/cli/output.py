"""What every command prints: one JSON envelope with --json, else text; and exit codes.

Exit codes (PRODUCT.md): 0 done; 1 failed and the home is as it was; 2 usage
error; 3 stopped on conflicts; 4 the product runs or another uplevel holds the
home. With --json every command prints one envelope:
    {"uplevel": 1, "command": ..., "ok": ..., "exit_code": ..., "result": {...} | null,
     "error": {"type", "message", "hint"} | null}
An error is an UplevelError (errors.py) whose class carries its exit code; a traceback
only with --debug.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NoReturn, Protocol, TypeVar

import click

from uplevel.engine import interrupt
from uplevel.errors import UplevelError

JSON_ENVELOPE_VERSION = 1


class Result(Protocol):
    """What a use case returns: the `result` of the JSON envelope."""

    def to_dict(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=Result)
Renderer = Callable[[R], None]
"""Prints a result of one type for a person; typed per command so mypy checks each one."""


class Output:
    def __init__(self, command: str, as_json: bool) -> None:
        self.command = command
        self.as_json = as_json

    def finish(
        self, result: R, human: Callable[[R], None], exit_code: int = 0, *, ok: bool | None = None
    ) -> NoReturn:
        """Print `result` and exit; `ok` for an exit code that reports an answer, not a
        failure (`check --exit-code`: 100, 101)."""
        late = interrupt.late()
        if late:
            click.echo(
                f"note: {late} arrived after the commit point; the change was completed",
                err=True,
            )
        if self.as_json:
            click.echo(
                json.dumps(
                    {
                        "uplevel": JSON_ENVELOPE_VERSION,
                        "command": self.command,
                        "ok": exit_code == 0 if ok is None else ok,
                        "exit_code": exit_code,
                        "result": result.to_dict(),
                        "error": None,
                    },
                    indent=1,
                )
            )
        else:
            human(result)
        sys.exit(exit_code)

    def fail(self, exc: UplevelError) -> NoReturn:
        if self.as_json:
            click.echo(
                json.dumps(
                    {
                        "uplevel": JSON_ENVELOPE_VERSION,
                        "command": self.command,
                        "ok": False,
                        "exit_code": exc.exit_code,
                        "result": None,
                        "error": {
                            "type": type(exc).__name__,
                            "message": exc.message,
                            "hint": exc.hint,
                        },
                    },
                    indent=1,
                )
            )
        else:
            click.echo(f"uplevel {self.command}: error: {exc.message}", err=True)
            if exc.hint:
                click.echo(f"  hint: {exc.hint}", err=True)
        sys.exit(exc.exit_code)


@contextlib.contextmanager
def run(ctx: click.Context, command: str, as_json: bool) -> Iterator[Output]:
    """The frame of every command: its Output, and every error turned into an envelope."""
    out = Output(command, as_json)
    try:
        yield out
    except (interrupt.Interrupted, KeyboardInterrupt) as exc:
        stop = interrupt.as_interrupted(exc)
        assert stop is not None
        out.fail(interrupted_error(stop))
    except UplevelError as exc:
        if ctx.obj.get("debug"):
            raise
        out.fail(exc)
    except OSError as exc:
        if ctx.obj.get("debug"):
            raise
        out.fail(UplevelError(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")))
    except Exception as exc:
        if ctx.obj.get("debug"):
            raise
        out.fail(
            UplevelError(
                f"unexpected error: {type(exc).__name__}: {exc}",
                hint="this is a bug in uplevel; run again with --debug for the traceback and report it "
                "(an interrupted change is rolled back by the next command)",
            )
        )


def interrupted_error(stop: interrupt.Interrupted) -> UplevelError:
    """The error an interrupt before the commit point ends in: exit 128 + the signal."""
    error = UplevelError(
        f"interrupted by {stop.name}" + (f": {stop.outcome}" if stop.outcome else ""),
        hint="nothing was committed; run the command again to make the change",
    )
    error.exit_code = stop.exit_code
    return error


@contextlib.contextmanager
def progress(
    label: str, total: int | None, enabled: bool
) -> Iterator[Callable[[int], None] | None]:
    """A byte progress bar on stderr for long work, only on a terminal."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        transient=True,
        console=Console(stderr=True),
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def notes(lines: Iterable[str]) -> None:
    """What a use case noted for the operator (recovery, fallbacks), on stderr."""
    for n in lines:
        click.echo(f"note: {n}", err=True)
