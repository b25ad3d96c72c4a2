"""One exception tree for everything an operator can see; each class carries its exit code.

    UplevelError (exit 1: failed, the home is as it was)
    ├── UsageError (2)
    ├── HomeError (1)            home not adopted, bad state files, unknown schema version
    │   └── CorruptStateError (1)  a file of uplevel's own state does not parse (names it)
    ├── BundleError (1)          bundle malformed, tampered, or not for this home
    │   └── UnsafePathError (1)  a path would escape the home or write through a symlink
    ├── ServerError (1)          the update server could not be reached, refused us, or sent
    │                            something that failed verification (client/)
    ├── PublisherError (1)       a repository directory is not one, or is damaged (repo/)
    ├── NotEnoughSpaceError (1)
    ├── PendingTransactionError (1)   stopped on conflicts: continue or abort first
    └── BusyError (4)            the product runs, or another uplevel holds the home

Stopping on conflicts (exit 3) is not an error: it is a result status.
The CLI prints `message` and, when present, `hint` (what to do next); tracebacks only with --debug.
"""

from __future__ import annotations


class UplevelError(Exception):
    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(UplevelError):
    exit_code = 2


class HomeError(UplevelError):
    pass


CORRUPT_STATE_HINT = (
    "run `uplevel verify` to see what else is damaged; restore updates/uplevel/ from your "
    "backup of the home, or adopt the home again with `uplevel init`"
)


class CorruptStateError(HomeError):
    """A file of uplevel's own state (state.json, a manifest, the journal, a transaction
    record) is truncated or garbled: the message names it, the hint says what to do."""

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"corrupt state: {path}: {problem}", hint=CORRUPT_STATE_HINT)


class BundleError(UplevelError):
    pass


class UnsafePathError(BundleError):
    pass


class ServerError(UplevelError):
    """The server could not be reached, refused us, or sent something that failed verification."""


class PublisherError(UplevelError):
    """A repository directory is missing its configuration, metadata, database or contents."""


class NotEnoughSpaceError(UplevelError):
    pass


class PendingTransactionError(UplevelError):
    pass


class BusyError(UplevelError):
    exit_code = 4
