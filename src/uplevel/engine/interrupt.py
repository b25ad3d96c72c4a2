"""Interruptions (SIGINT, SIGTERM) mapped to outcomes, in one place.

Scripts read the exit code as "the home is as it was" or "the change is done", so a
signal must never leave the two apart:

- before the commit point, the signal raises `Interrupted` where the process is; the
  home's session (engine/session.py) rolls the open transaction back and the command
  exits 128 + the signal (130 for SIGINT, 143 for SIGTERM), as shells expect, the home
  as it was;
- from the commit point on (Transaction.commit or .stop begins writing the new state),
  signals are held until the command ends: the change is finished, the command exits
  as it would have (0) and notes that the interrupt came too late to stop it.

SIGKILL cannot be caught: the next command recovers the home (engine/txn/recover.py)
and says what it did. `install` is called by the CLI only (a library caller keeps its
own handlers); without it, KeyboardInterrupt is treated like Interrupted(SIGINT).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)

_held = 0  # > 0: inside a section that must not be cut short
_committed = False  # the commit point was passed: hold every later signal
_late: list[int] = []  # signals held, in arrival order


class Interrupted(BaseException):
    """A SIGINT or SIGTERM arrived before the commit point.

    A BaseException, like KeyboardInterrupt, so that `except Exception` cleanups do not
    swallow it. `outcome` says what the session did about it (set on the way out)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = 128 + signum
        self.outcome: str | None = None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


def _handler(signum: int, frame: FrameType | None) -> None:
    if _held or _committed:
        _late.append(signum)
        return
    raise Interrupted(signum)


def install() -> None:
    """Route SIGINT and SIGTERM through this module (main thread only)."""
    for sig in SIGNALS:
        signal.signal(sig, _handler)


@contextlib.contextmanager
def held() -> Iterator[None]:
    """A section (a rollback, a recovery) that a signal must not cut: the signal waits."""
    global _held
    _held += 1
    try:
        yield
    finally:
        _held -= 1


def deliver() -> None:
    """Raise a signal held by a finished section (before the commit point)."""
    if not _held and _late and not _committed:
        raise Interrupted(_late.pop(0))


def commit_point() -> None:
    """From here on the change is finished whatever arrives: hold signals to the end."""
    global _committed
    _committed = True


def late() -> str | None:
    """The name of the first signal held after the commit point, if one came."""
    if _committed and _late:
        return signal.Signals(_late[0]).name
    return None


def as_interrupted(exc: BaseException) -> Interrupted | None:
    """`exc` as an Interrupted (a KeyboardInterrupt counts as SIGINT), else None."""
    if isinstance(exc, Interrupted):
        return exc
    if isinstance(exc, KeyboardInterrupt):
        return Interrupted(signal.SIGINT)
    return None
