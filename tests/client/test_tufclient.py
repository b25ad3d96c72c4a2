"""uplevel.client.tufclient in-process: the API `uplevel update` uses, on the same fetcher."""

from __future__ import annotations

from pathlib import Path

import pytest
from tuf.api.exceptions import LengthOrHashMismatchError, RepositoryError

from tests.support.tuf import DEV_TARGET, TOP_TARGET, Repo, Server
from uplevel.client.fetch import FetchConfig, Fetcher
from uplevel.client.tufclient import TargetNotFoundError, TufClient, target_filename, validate_root


def _client(repo: Repo, server: Server, metadata_dir: Path, token: str | None = None) -> TufClient:
    return TufClient(
        metadata_dir,
        f"{server.url}/metadata",
        bootstrap=repo.root_bytes,
        fetcher=Fetcher(FetchConfig(token=token, proxies_from_env=False, timeout=5)),
        target_base_url=f"{server.url}/targets",
    )


def test_get_target_is_verified_and_uses_the_token(
    repo: Repo, server: Server, tmp_path: Path
) -> None:
    client = _client(repo, server, tmp_path / "md", token="upl_tok")
    client.refresh()
    assert client.get_target(DEV_TARGET) == repo.contents[DEV_TARGET]  # through delegation
    assert {r.headers.get("authorization") for r in server.log} == {"Bearer upl_tok"}
    with pytest.raises(TargetNotFoundError):
        client.get_target("nope.txt")


def test_get_target_refuses_altered_bytes(repo: Repo, server: Server, tmp_path: Path) -> None:
    path = repo.target_url_path(TOP_TARGET)
    server.files[path] = server.files[path].upper()
    with pytest.raises(LengthOrHashMismatchError):
        _client(repo, server, tmp_path / "md").get_target(TOP_TARGET)


def test_download_target_is_stored_once(repo: Repo, server: Server, tmp_path: Path) -> None:
    out = tmp_path / "out"
    client = _client(repo, server, tmp_path / "md")
    dest = client.download_target(TOP_TARGET, out)
    assert dest == out / TOP_TARGET
    assert dest.read_bytes() == repo.contents[TOP_TARGET]
    requests = len(server.log)
    assert client.download_target(TOP_TARGET, out) == dest
    assert len(server.log) == requests
    dest.write_bytes(b"tampered locally")  # a changed local copy is fetched again
    client.download_target(TOP_TARGET, out)
    assert dest.read_bytes() == repo.contents[TOP_TARGET]
    assert sorted(p.name for p in out.iterdir()) == [TOP_TARGET]


def test_pinned_bootstrap_wins_over_a_replaced_root_json(
    repo: Repo, server: Server, tmp_path: Path
) -> None:
    md = tmp_path / "md"
    _client(repo, server, md).refresh()
    (md / "root.json").write_bytes(b"{}")  # someone replaced the cached anchor
    _client(repo, server, md).refresh()
    assert (md / "root.json").read_bytes() == repo.root_bytes


def test_validate_root_and_target_filename(repo: Repo) -> None:
    assert validate_root(repo.root_bytes).signed.version == 1
    with pytest.raises(RepositoryError):
        validate_root(repo.published["targets"][1])
    assert target_filename("a/b c.txt") == "a%2Fb%20c.txt"
    for unsafe in ("", ".", ".."):
        with pytest.raises(RepositoryError):
            target_filename(unsafe)
