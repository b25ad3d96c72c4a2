"""Tokens: create (shown once, only its hash kept), list, revoke, and the authorisation matrix."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import time
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.homes import run_cli
from tests.support.repo import Member, new_repo, write_zip
from uplevel.devtools.sample import PRODUCT
from uplevel.errors import UsageError
from uplevel.repo.product import add_product
from uplevel.repo.tokens import authorize, create_token, list_tokens, revoke_token

OTHER = "wso2is-7.0.0"
TOKEN_RE = re.compile(r"^upl_[A-Za-z0-9_-]{43}$")


def test_token_create_cli_prints_it_once_and_stores_only_its_hash(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    r = run_cli(
        "repo", "token", "create", repo, "--subscriber", "acme", "--product", "wso2am-*",
        "--channel", "security", "--expires", "90d", "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["command"] == "repo token create"
    result = doc["result"]
    token = result["token"]
    assert TOKEN_RE.match(token)
    assert result["expires"] - result["created"] == 90 * 86400
    assert (result["subscriber"], result["product"], result["channel"]) == (
        "acme",
        "wso2am-*",
        "security",
    )
    with sqlite3.connect(repo / "uplevel.db") as conn:
        [(stored,)] = conn.execute("SELECT token_hash FROM tokens").fetchall()
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert token.encode() not in (repo / "uplevel.db").read_bytes()

    r = run_cli("repo", "token", "list", repo, "--json", check=0)
    [listed] = json.loads(r.stdout)["result"]["tokens"]
    assert set(listed) == {
        "id",
        "subscriber",
        "product",
        "channel",
        "created",
        "expires",
        "revoked",
    }
    assert listed["id"] == result["id"] and listed["revoked"] is None
    assert token not in r.stdout and stored not in r.stdout

    r = run_cli("repo", "token", "revoke", repo, result["id"], "--json", check=0)
    assert json.loads(r.stdout)["result"]["revoked"] is not None
    r = run_cli("repo", "token", "revoke", repo, "nosuchid")
    assert r.returncode == 2 and "no token with id" in r.stderr


def test_token_create_usage_errors(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    with pytest.raises(UsageError, match="--subscriber"):
        create_token(repo, subscriber=" ", product="wso2am-*", channel="full")
    with pytest.raises(UsageError, match="--product"):
        create_token(repo, subscriber="a", product="x y", channel="full")
    with pytest.raises(UsageError, match="channel"):
        create_token(repo, subscriber="a", product="wso2am-*", channel="nightly")
    r = run_cli(
        "repo", "token", "create", repo, "--subscriber", "a", "--product", "p",
        "--channel", "full", "--expires", "soon",
    )  # fmt: skip
    assert r.returncode == 2 and "--expires" in r.stderr


@pytest.fixture(scope="module")
def matrix_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two products, each with one distinct file (one blob each), and tokens of every kind."""
    root = tmp_path_factory.mktemp("authz")
    repo = new_repo(root / "repo")
    for product in (PRODUCT, OTHER):
        pack = write_zip(root / f"{product}.zip", [Member("top/only.txt", product.encode())])
        add_product(repo, pack=pack, product=product)
    return repo


def token(
    repo: Path,
    product: str,
    channel: str,
    expires: timedelta | None = None,
    now: int | None = None,
) -> str:
    made = create_token(
        repo, subscriber="s", product=product, channel=channel, expires=expires, now=now
    )
    return made.token


def blob_of(product: str) -> str:
    return hashlib.sha256(product.encode()).hexdigest()


def test_authorisation_matrix(matrix_repo: Path) -> None:
    db = matrix_repo / "uplevel.db"
    full = token(matrix_repo, "wso2am-*", "full")
    security = token(matrix_repo, PRODUCT, "security")
    now = int(time.time())
    expired = token(matrix_repo, PRODUCT, "full", timedelta(hours=1), now - 7200)
    revoked = create_token(matrix_repo, subscriber="s", product=PRODUCT, channel="full")
    revoke_token(matrix_repo, revoked.info.id)

    def status(tok: str | None, product: str | None, channel: str | None, blob: str | None) -> int:
        return authorize(db, tok, product, channel, blob).status

    assert status(None, PRODUCT, "full", None) == 401  # no token
    assert status("", None, None, None) == 401
    assert status("upl_" + "A" * 43, None, None, None) == 403  # unknown
    assert status(full, None, None, None) == 200  # metadata: any valid token
    assert status(security, None, None, None) == 200
    assert status(full, PRODUCT, "full", None) == 200
    assert status(full, OTHER, "full", None) == 403  # wrong product
    assert status(full, PRODUCT, "security", None) == 200  # full covers security
    assert status(security, PRODUCT, "security", None) == 200
    assert status(security, PRODUCT, "full", None) == 403  # wrong channel
    assert status(expired, PRODUCT, "full", None) == 403
    assert status(expired, None, None, None) == 403
    assert status(revoked.token, PRODUCT, "full", None) == 403
    assert status(revoked.token, None, None, None) == 403
    assert status(full, None, None, blob_of(PRODUCT)) == 200
    assert status(security, None, None, blob_of(PRODUCT)) == 200  # level 0 is in security too
    assert status(full, None, None, blob_of(OTHER)) == 403  # blob of another product
    assert status(full, None, None, "0" * 64) == 403  # no such blob
    assert status(revoked.token, None, None, blob_of(PRODUCT)) == 403

    reason = authorize(db, expired, PRODUCT, "full", None).reason
    assert "expired" in reason
    assert authorize(db, full, PRODUCT, "full", None, now=now).allowed


def test_list_never_shows_tokens(matrix_repo: Path) -> None:
    made = token(matrix_repo, "*", "full")
    listing = list_tokens(matrix_repo).to_dict()
    assert listing["tokens"] and made not in json.dumps(listing)
    assert not any(TOKEN_RE.search(json.dumps(t)) for t in listing["tokens"])
    assert all("token_hash" not in t and "token" not in t for t in listing["tokens"])
