"""Opening a home for a command: lock, load state, recover, refuse when unsafe.

Every command that reads or changes a home goes through `open_home`, so that
the rules (one uplevel per home, recovery first, no change while the product
runs or while conflicts are pending) hold everywhere.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from uplevel.engine import interrupt
from uplevel.engine.home import Home, State
from uplevel.engine.running import check_stopped
from uplevel.errors import BusyError, PendingTransactionError


@dataclass
class Session:
    home: Home
    state: State
    notes: list[str] = field(default_factory=list)  # what recovery did, for the operator
    read_only: bool = False  # another uplevel holds the lock: look, don't touch

    def check_can_change(self) -> None:
        """For a command that looks first (change=False) and changes the home later through
        apply_source: refuse now, before any download or verification, if it could not."""
        if self.read_only:
            raise BusyError(f"another uplevel is working on {self.home.root}")
        if self.state.pending:
            raise PendingTransactionError(
                f"an update of this home stopped on conflicts (transaction {self.state.pending})",
                hint="resolve them and run `uplevel continue`, or run `uplevel abort`",
            )


@contextlib.contextmanager
def open_home(
    root: Path,
    *,
    change: bool,
    force: bool = False,
    allow_pending: bool = False,
) -> Iterator[Session]:
    """Yield a Session for `root`.

    change=True: take the lock (BusyError if held), recover, refuse while the product
    runs (unless force) and while a transaction is stopped on conflicts (unless
    allow_pending). change=False: take the lock if free and recover; if another uplevel
    holds it, look at the state read-only.
    """
    home = Home(root)
    home.require_adopted()
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(home.locked())
        except BusyError:
            if change:
                raise
            yield Session(home=home, state=home.load_state(), read_only=True)
            return
        state = home.load_state()
        note = None
        if os.path.lexists(home.txn_dir) or state.pending:
            from uplevel.engine.txn import recover

            with interrupt.held():  # a recovery cut short would only be redone
                state, note = recover(home, state)
            interrupt.deliver()
        session = Session(home=home, state=state, notes=[note] if note else [])
        if change:
            if state.pending and not allow_pending:
                raise PendingTransactionError(
                    f"an update of this home stopped on conflicts (transaction {state.pending})",
                    hint="resolve them (write each f.final) and run `uplevel continue`, "
                    "or run `uplevel abort`",
                )
            check_stopped(home.root, home.profile(state), force=force)
        try:
            yield session
        except BaseException as exc:
            stop = interrupt.as_interrupted(exc)
            if stop is None:
                raise
            with interrupt.held():
                stop.outcome = _settle_interrupted(home)
            raise stop from None


def _settle_interrupted(home: Home) -> str:
    """Undo what an interrupted command began (the lock is still held): say what was done."""
    from uplevel.engine.txn import recover

    state = home.load_state()
    note = None
    if os.path.lexists(home.txn_dir) or state.pending:
        state, note = recover(home, state)
    if note:
        return note
    if state.pending:
        return (
            f"the home is at level {state.level}, still stopped on conflicts "
            f"(transaction {state.pending})"
        )
    return f"the home was not changed (level {state.level})"
