"""The SQLite index `uplevel.db`: levels, which blobs each product/channel has, products, tokens.

The signed TUF metadata is the truth about what is published; this database is
the index the server authorises with and `repo list` reads. A publisher commits
its rows before it signs the metadata, and `forget_unpublished` drops rows whose
level never reached a timestamp (a publisher killed in between), so the two agree
after the next publish. SQLite does its own durable writes (synchronous=FULL).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from uplevel.errors import PublisherError

DB_SCHEMA = 1

SCHEMA = """
CREATE TABLE tokens (
  id          TEXT PRIMARY KEY,
  subscriber  TEXT NOT NULL,
  token_hash  TEXT NOT NULL UNIQUE,
  product     TEXT NOT NULL,
  channel     TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER,
  revoked_at  INTEGER
);
CREATE TABLE blobs (
  sha256   TEXT NOT NULL,
  product  TEXT NOT NULL,
  channel  TEXT NOT NULL,
  PRIMARY KEY (sha256, product, channel)
);
CREATE TABLE levels (
  product  TEXT NOT NULL,
  channel  TEXT NOT NULL,
  level    INTEGER NOT NULL,
  manifest_digest TEXT NOT NULL,
  security INTEGER NOT NULL,
  title    TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (product, channel, level)
);
CREATE TABLE products (
  product    TEXT PRIMARY KEY,
  profile    TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
"""


def create_db(path: Path) -> None:
    """Create a new, empty database with the schema (refuses an existing file)."""
    if path.exists():
        raise PublisherError(f"{path} already exists")
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=FULL")
        conn.executescript(f"BEGIN;\n{SCHEMA}\nPRAGMA user_version={DB_SCHEMA};\nCOMMIT;")
    finally:
        conn.close()


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open the database (it must exist and have a schema version this uplevel reads)."""
    if not path.is_file():
        raise PublisherError(
            f"{path} is missing: not an uplevel repository, or a damaged one",
            hint="create a repository with `uplevel repo init`",
        )
    uri = f"{path.resolve().as_uri()}?mode={'ro' if readonly else 'rw'}"
    conn = sqlite3.connect(uri, uri=True, timeout=10)
    conn.execute("PRAGMA synchronous=FULL")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version != DB_SCHEMA:
        conn.close()
        raise PublisherError(
            f"{path}: schema version {version} is not supported (this uplevel reads {DB_SCHEMA})",
            hint="upgrade uplevel",
        )
    return conn


def forget_unpublished(conn: sqlite3.Connection, published: set[tuple[str, str, int]]) -> None:
    """Drop level rows (and products left without levels) that no signed metadata names."""
    rows = conn.execute("SELECT product, channel, level FROM levels").fetchall()
    stale = [r for r in rows if (r[0], r[1], r[2]) not in published]
    if not stale:
        return
    with conn:
        conn.executemany(
            "DELETE FROM levels WHERE product = ? AND channel = ? AND level = ?", stale
        )
        conn.execute("DELETE FROM products WHERE product NOT IN (SELECT product FROM levels)")
