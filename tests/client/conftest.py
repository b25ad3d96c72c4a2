"""Fixtures: a live repository server per test and the real `uplevel-tuf-client` in subprocesses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.tuf import Client, Repo, Server, serving


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    with serving(srv):
        yield srv


@pytest.fixture
def repo(server: Server) -> Repo:
    return Repo(server)


@pytest.fixture
def client(tmp_path: Path, server: Server) -> Client:
    (tmp_path / "metadata").mkdir()
    (tmp_path / "targets").mkdir()
    return Client(tmp_path / "metadata", tmp_path / "targets", server)
