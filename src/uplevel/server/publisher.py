"""The server's one door into the publisher's code: who may read what, and the timestamp.

The access rule (`uplevel.repo.tokens.authorize`) and the online re-signing of
`timestamp.json` (`uplevel.repo.metadata.refresh_timestamp`) belong to the
publisher; the server only calls them. Keeping every such call here means the
HTTP layer depends on three small functions, not on the repository's internals,
and a change on the publisher's side is adapted in one file. Nothing here knows
about HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from uplevel.repo import db, tokens
from uplevel.repo.config import RepoConfig
from uplevel.repo.layout import RepoLayout
from uplevel.repo.metadata import refresh_timestamp

_TOKEN_ID_CACHE_SIZE = 4096


def check_repository(repo_dir: Path) -> None:
    """Raise the publisher's clear error (with a hint) unless REPO is a repository we can read."""
    layout = RepoLayout(repo_dir)
    RepoConfig.load(layout.config)
    db.connect(layout.db, readonly=True).close()


def resign_timestamp_if_due(repo_dir: Path) -> int | None:
    """Re-sign timestamp.json when less than half its lifetime is left; the new version, or None.

    Raises BusyError while a publisher holds the repository lock.
    """
    return refresh_timestamp(repo_dir, if_less_than_half_left=True)


@dataclass(frozen=True)
class Verdict:
    """An authorisation answer: `status` 200 (allowed), 401 or 403, with the reason and the
    public id of the token when it names a known one (for the access log; never the token)."""

    status: int
    reason: str
    token_id: str | None

    @property
    def allowed(self) -> bool:
        return self.status == 200


class Gatekeeper:
    """Applies the publisher's access rule to the tokens of one repository, at `clock()` time."""

    def __init__(self, repo_dir: Path, *, clock: Callable[[], float]) -> None:
        self.db_path = RepoLayout(repo_dir).db
        self.clock = clock
        self._ids: dict[str, str] = {}

    def check(
        self,
        token: str | None,
        *,
        product: str | None = None,
        channel: str | None = None,
        blob_sha256: str | None = None,
    ) -> Verdict:
        decision = tokens.authorize(
            self.db_path, token, product, channel, blob_sha256, now=self.clock()
        )
        token_id = self.token_id(token) if token else None
        return Verdict(decision.status, decision.reason, token_id)

    def token_id(self, token: str) -> str | None:
        """The public id of a token, for logs. `Decision` does not carry it, so it is looked
        up once per token (ids never change; unknown tokens are not cached, they may be
        created later)."""
        digest = tokens.hash_token(token)
        if digest in self._ids:
            return self._ids[digest]
        conn = db.connect(self.db_path, readonly=True)
        try:
            row = conn.execute("SELECT id FROM tokens WHERE token_hash = ?", (digest,)).fetchone()
        finally:
            conn.close()
        if row is None:
            return None
        if len(self._ids) >= _TOKEN_ID_CACHE_SIZE:
            self._ids.clear()
        self._ids[digest] = str(row[0])
        return self._ids[digest]
