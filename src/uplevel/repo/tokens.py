"""Subscriber tokens: create, list, revoke, and `authorize`, the rule the server applies.

A token is `upl_` + 43 url-safe base64 characters (32 random bytes), shown once;
only its sha256 is stored. `authorize` is the whole access rule of
docs/repository.md in one function with no HTTP in it, so the server, an nginx
`auth_request` endpoint and the tests share it:

    no token                                  → 401
    unknown, expired or revoked token         → 403
    metadata (no product, no blob)            → 200 for any valid token
    target of PRODUCT/CHANNEL                 → 200 if the token's glob matches PRODUCT and
                                                it is entitled to CHANNEL, else 403
    blob                                      → 200 if a product/channel that has the blob
                                                is one the token is entitled to, else 403

A `full` token is entitled to both channels, a `security` token to `security` only.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import secrets
import sqlite3
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from uplevel.core.updateinfo import check_channel
from uplevel.errors import UsageError
from uplevel.repo import db
from uplevel.repo.config import RepoConfig
from uplevel.repo.layout import RepoLayout

TOKEN_PREFIX = "upl_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def entitled(token_channel: str, channel: str) -> bool:
    return token_channel == "full" or token_channel == channel


@dataclass(frozen=True)
class Decision:
    status: Literal[200, 401, 403]
    reason: str

    @property
    def allowed(self) -> bool:
        return self.status == 200


def authorize(
    db_path: Path,
    token: str | None,
    product: str | None,
    channel: str | None,
    blob_sha256: str | None,
    *,
    now: float | None = None,
) -> Decision:
    """May the bearer of `token` read this? (see the module docstring for the rule)"""
    if not token:
        return Decision(401, "no token")
    conn = db.connect(db_path, readonly=True)
    try:
        row = conn.execute(
            "SELECT id, product, channel, expires_at, revoked_at FROM tokens WHERE token_hash = ?",
            (hash_token(token),),
        ).fetchone()
        if row is None:
            return Decision(403, "unknown token")
        token_id, glob, token_channel, expires_at, revoked_at = row
        moment = time.time() if now is None else now
        if revoked_at is not None:
            return Decision(403, f"token {token_id} was revoked")
        if expires_at is not None and expires_at <= moment:
            return Decision(403, f"token {token_id} has expired")
        if blob_sha256 is not None:
            owners = conn.execute(
                "SELECT product, channel FROM blobs WHERE sha256 = ?", (blob_sha256,)
            ).fetchall()
            if any(fnmatch.fnmatchcase(p, glob) and entitled(token_channel, c) for p, c in owners):
                return Decision(200, f"token {token_id} may read blob {blob_sha256[:12]}…")
            return Decision(403, f"token {token_id} is not entitled to this blob")
        if product is None:
            return Decision(200, f"token {token_id} may read metadata")
        if not fnmatch.fnmatchcase(product, glob):
            return Decision(403, f"token {token_id} is not for product {product}")
        if channel is None or not entitled(token_channel, channel):
            return Decision(403, f"token {token_id} is not for the {channel} channel")
        return Decision(200, f"token {token_id} may read {product}/{channel}")
    finally:
        conn.close()


@dataclass(frozen=True, kw_only=True)
class TokenInfo:
    id: str
    subscriber: str
    product: str
    channel: str
    created: int
    expires: int | None
    revoked: int | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True, kw_only=True)
class TokenCreated:
    """The only result that carries the token itself: it cannot be shown again."""

    info: TokenInfo
    token: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.info.to_dict(), "token": self.token}


@dataclass(frozen=True, kw_only=True)
class TokenList:
    repo: str
    tokens: list[TokenInfo]

    def to_dict(self) -> dict[str, Any]:
        return {"repo": self.repo, "tokens": [t.to_dict() for t in self.tokens]}


def _open(repo_dir: Path, *, readonly: bool = False) -> sqlite3.Connection:
    layout = RepoLayout(repo_dir)
    RepoConfig.load(layout.config)  # a clear error when REPO is not a repository
    return db.connect(layout.db, readonly=readonly)


def create_token(
    repo_dir: Path,
    *,
    subscriber: str,
    product: str,
    channel: str,
    expires: timedelta | None = None,
    now: int | None = None,
) -> TokenCreated:
    """Make a token for subscribers of products matching the `product` glob, on `channel`."""
    if not subscriber.strip():
        raise UsageError("--subscriber must not be empty")
    if not product.strip() or any(c.isspace() or c in "/\\\x00" for c in product):
        raise UsageError(f"--product {product!r}: expected a product name or glob (wso2am-*)")
    check_channel(channel)
    created = int(time.time()) if now is None else now
    expires_at = created + int(expires.total_seconds()) if expires is not None else None
    token = TOKEN_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    conn = _open(repo_dir)
    try:
        while True:
            token_id = secrets.token_hex(4)
            try:
                with conn:
                    conn.execute(
                        "INSERT INTO tokens (id, subscriber, token_hash, product, channel, "
                        "created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                        (
                            token_id,
                            subscriber,
                            hash_token(token),
                            product,
                            channel,
                            created,
                            expires_at,
                        ),
                    )
                break
            except sqlite3.IntegrityError:
                continue  # the random id was taken; draw another
    finally:
        conn.close()
    info = TokenInfo(
        id=token_id,
        subscriber=subscriber,
        product=product,
        channel=channel,
        created=created,
        expires=expires_at,
        revoked=None,
    )
    return TokenCreated(info=info, token=token)


def list_tokens(repo_dir: Path) -> TokenList:
    conn = _open(repo_dir, readonly=True)
    try:
        rows = conn.execute(
            "SELECT id, subscriber, product, channel, created_at, expires_at, revoked_at "
            "FROM tokens ORDER BY created_at, id"
        ).fetchall()
    finally:
        conn.close()
    return TokenList(
        repo=str(repo_dir),
        tokens=[
            TokenInfo(
                id=r[0],
                subscriber=r[1],
                product=r[2],
                channel=r[3],
                created=r[4],
                expires=r[5],
                revoked=r[6],
            )
            for r in rows
        ],
    )


def revoke_token(repo_dir: Path, token_id: str, *, now: int | None = None) -> TokenInfo:
    """Revoke a token by its public id (revoking twice keeps the first time)."""
    conn = _open(repo_dir)
    try:
        with conn:
            conn.execute(
                "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (int(time.time()) if now is None else now, token_id),
            )
    finally:
        conn.close()
    for info in list_tokens(repo_dir).tokens:
        if info.id == token_id:
            return info
    raise UsageError(
        f"no token with id {token_id!r}", hint="see the ids with `uplevel repo token list`"
    )
