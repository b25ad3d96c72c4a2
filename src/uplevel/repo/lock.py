"""One publisher at a time: an exclusive flock on REPO/.lock.

Two publishers interleaving targets → snapshot → timestamp would sign versions
that skip or repeat; the server's timestamp refresh takes the same lock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from uplevel.engine import fsio
from uplevel.repo.layout import RepoLayout


@contextlib.contextmanager
def repo_lock(layout: RepoLayout) -> Iterator[None]:
    """Hold the repository's lock, or raise BusyError (exit 4) at once if another holds it."""
    with fsio.exclusive_lock(
        layout.lock,
        busy=f"another uplevel is publishing to {layout.root}",
        hint="wait for it to finish, then run the command again",
    ):
        yield
