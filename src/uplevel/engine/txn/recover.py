"""Recovery: open the transaction a crash left in txn/, and finish or undo it (safety rule:
the home is old or new after any crash, never half)."""

from __future__ import annotations

import os

from uplevel.engine import fsio
from uplevel.engine.home import Event, Home, State, now
from uplevel.engine.scan import hash_file
from uplevel.engine.txn.journal import Journal
from uplevel.engine.txn.transaction import Transaction


def open_transaction(home: Home) -> Transaction | None:
    path = home.txn_dir / "journal.json"
    if not path.exists():
        return None
    return Transaction(home, Journal.load(path))


def recover(home: Home, state: State) -> tuple[State, str | None]:
    """Finish or undo a transaction a crash left behind. Returns the state and what was done."""
    if not os.path.lexists(home.txn_dir):
        if state.pending and not state.committed(state.pending):
            # An abort removed txn/ and died before writing the state: finish it.
            finished = Event(
                time=now(),
                event="aborted",
                from_level=state.level,
                to_level=state.level,
                txn=state.pending,
                detail="abort finished after an interruption",
            )
            state = state.with_event(finished, pending=None)
            home.save_state(state)
            return state, f"finished an interrupted abort: the home is at level {state.level}"
        return state, None
    txn = open_transaction(home)
    if txn is None:
        # Died while staging (before the journal: the home proper was not touched), or in
        # the last step of a finished commit (the journal was removed last): either way
        # state.json tells the level the home is at.
        fsio.remove_tree(home.txn_dir)
        return (
            state,
            f"removed the leftovers of an interrupted transaction; the home is at level {state.level}",
        )
    j = txn.j
    if state.committed(j.id):
        txn.finish()
        return state, f"finished committing {j.kind} {j.id}: the home is at level {j.to_level}"
    if j.phase == "stopped":
        if state.pending != j.id:  # crashed between journal and state writes when stopping
            state = state.with_event(
                Event(
                    time=now(),
                    event="stopped",
                    from_level=j.from_level,
                    to_level=j.to_level,
                    txn=j.id,
                ),
                pending=j.id,
            )
            home.save_state(state)
        return state, None
    if j.phase == "continuing":
        txn.rollback(j.stop_index)
        return (
            state,
            f"undid an interrupted `uplevel continue` of {j.id}; conflicts are pending again",
        )
    if j.phase == "aborting":
        sweep_finals(txn)
    txn.rollback(0)
    event = "aborted" if j.phase == "aborting" else "recovered"
    detail = "abort finished" if j.phase == "aborting" else "interrupted transaction rolled back"
    state = state.with_event(
        Event(
            time=now(),
            event=event,
            from_level=j.from_level,
            to_level=j.to_level,
            txn=j.id,
            detail=detail,
        ),
        pending=None,
    )
    home.save_state(state)
    return (
        state,
        f"rolled back interrupted {j.kind} {j.id}: the home is back at level {state.level}",
    )


def sweep_finals(txn: Transaction) -> list[str]:
    """Move the operator's `f.final` files into the store (abort must not lose them)."""
    moved = []
    for c in txn.j.conflicts:
        final = txn.home.root / (c["path"] + ".final")
        if os.path.isfile(final) and not os.path.islink(final):
            txn.home.store_by_rename(final, hash_file(final))
            moved.append(c["path"] + ".final")
    return moved
