"""Fixtures for the server tests: a repository published with the real `uplevel repo` CLI,
tokens for every case of the access rule, and a real `uplevel serve` on a loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.published import (
    Published,
    publish,
)
from tests.support.server import (
    Server,
    start_server,
    wait_healthy,
)


@pytest.fixture(scope="session")
def published(tmp_path_factory: pytest.TempPathFactory) -> Published:
    return publish(tmp_path_factory.mktemp("published"))


# --- a running server -------------------------------------------------------------------


@pytest.fixture(scope="session")
def server(published: Published, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(published.repo, tmp_path_factory.mktemp("server"))
    try:
        wait_healthy(srv.url)
        yield srv
    finally:
        code, _, err = srv.stop()
    assert code == 0, err


@pytest.fixture(scope="session")
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c
