"""The journaled transaction: the only code that changes files in a home.

journal.py: what is written before the first step (Change, Journal); copy.py: staging
contents and verified copies; transaction.py: prepare, execute, commit, stop, rollback;
recover.py: finishing or undoing what a crash left behind.

Protocol (docs/state-format.md):
1. prepare: check every path (inside the home, no symlinked parent, same
   filesystem), check free space, stage every new file in txn/stage/ (fsync,
   hash verified while writing), then write txn/journal.json durably. Until
   here the home proper is untouched.
2. execute: a list of steps that are all rename(2), mkdir(2) or rmdir(2).
   Whether a step ran can be read off the disk (its source is gone, or its
   directory exists), so after a crash the steps are undone in reverse order
   without any per-step log.
3. commit: the transaction record and the new pristine manifest are written
   first, then state.json names the transaction: that write is the commit point.
4. finish: backups move into the content-addressed store (objects/), txn/ goes.
A transaction can also stop on conflicts (phase "stopped") and later continue
(more steps appended) or abort (everything undone).
"""

from __future__ import annotations

from uplevel.engine.txn.copy import CopyOf, Verified
from uplevel.engine.txn.journal import Change, Content, Journal
from uplevel.engine.txn.recover import open_transaction, recover, sweep_finals
from uplevel.engine.txn.transaction import Transaction

__all__ = [
    "Change",
    "Content",
    "CopyOf",
    "Journal",
    "Transaction",
    "Verified",
    "open_transaction",
    "recover",
    "sweep_finals",
]
