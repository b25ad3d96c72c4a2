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

            state, note = recover(home, state)
        session = Session(home=home, state=state, notes=[note] if note else [])
        if change:
            if state.pending and not allow_pending:
                raise PendingTransactionError(
                    f"an update of this home stopped on conflicts (transaction {state.pending})",
                    hint="resolve them (write each f.final) and run `uplevel continue`, "
                    "or run `uplevel abort`",
                )
            check_stopped(home.root, home.profile(state), force=force)
        yield session
