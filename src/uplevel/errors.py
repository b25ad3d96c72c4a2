"""One exception tree for everything an operator can see; each class carries its exit code.

    UplevelError (exit 1: failed, the home is as it was)
    ├── UsageError (2)
    ├── HomeError (1)            home not adopted, bad state files, unknown schema version
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
