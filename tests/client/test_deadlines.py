"""Network time limits against a hostile server on 127.0.0.1 (tests/support/slowserver.py).

Issue 16's reproducers: a server dripping a blob at one byte per interval (with a correct
Content-Length) kept `uplevel update` running for hours; a server that accepts and never
answers was given up only after about 90 s (three tries), silently; a refused connection
was reported as "timed out". Here each ends in bounded time with an error that says which
(too slow, deadline, timed out, refused, reset) and names the host, and long waits are
reported while they last. The limits are settable: `uplevel --timeout`, UPLEVEL_TIMEOUT,
UPLEVEL_DEADLINE, UPLEVEL_MIN_RATE.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from tuf.api.exceptions import DownloadError, SlowRetrievalError

from tests.support.homes import run_cli
from tests.support.slowserver import slow_server
from tests.support.tuf import closed_port
from uplevel.client.fetch import FetchConfig, Fetcher
from uplevel.devtools.sample import PRODUCT
from uplevel.errors import UsageError


def fetcher(**limits: float) -> Fetcher:
    return Fetcher(FetchConfig(proxies_from_env=False, **limits))  # type: ignore[arg-type]


def test_a_dripping_server_is_given_up_as_too_slow() -> None:
    with slow_server("drip", interval=0.05, size=400) as srv:
        start = time.monotonic()
        with pytest.raises(SlowRetrievalError) as caught:
            fetcher(timeout=1).get(f"{srv.url}/blob", max_length=200_000)
        took = time.monotonic() - start
    assert "too slow" in str(caught.value) and f"127.0.0.1:{srv.port}" in str(caught.value)
    assert took < 5


def test_the_overall_deadline_ends_a_transfer_that_keeps_its_rate() -> None:
    with slow_server("drip", interval=0.05, size=400) as srv:
        start = time.monotonic()
        with pytest.raises(SlowRetrievalError) as caught:
            fetcher(timeout=5, min_rate=0, deadline=1).get(f"{srv.url}/blob", max_length=200_000)
        took = time.monotonic() - start
    assert "deadline" in str(caught.value) and f"127.0.0.1:{srv.port}" in str(caught.value)
    assert took < 4


def test_a_stalled_server_times_out_once_not_three_times() -> None:
    with slow_server("stall") as srv:
        start = time.monotonic()
        with pytest.raises(SlowRetrievalError) as caught:
            fetcher(timeout=1).get(f"{srv.url}/x", max_length=10)
        took = time.monotonic() - start
        connections = srv.connections
    assert "sent nothing for 1 s" in str(caught.value) and "timed out" in str(caught.value)
    assert f"127.0.0.1:{srv.port}" in str(caught.value)
    assert took < 2.5 and connections == 1


def test_a_long_wait_is_reported_while_it_lasts() -> None:
    seen: list[tuple[str, float]] = []
    config = FetchConfig(
        proxies_from_env=False,
        timeout=2.5,
        notice_after=0.5,
        on_wait=lambda host, s: seen.append((host, s)),
    )
    with slow_server("drip", interval=1.2, size=2) as srv:
        fetcher_ = Fetcher(config)
        assert fetcher_.get(f"{srv.url}/x", max_length=10) == b"xx"
    assert len(seen) >= 2 and all(h == f"127.0.0.1:{srv.port}" for h, _ in seen), seen


def test_a_refused_connection_says_refused_not_timed_out() -> None:
    port = closed_port()
    with pytest.raises(DownloadError) as caught:
        fetcher(timeout=0.2).get(f"http://127.0.0.1:{port}/x", max_length=10)
    assert not isinstance(caught.value, SlowRetrievalError)
    assert f"connection refused by 127.0.0.1:{port}" in str(caught.value)


def test_a_reset_connection_says_reset() -> None:
    with slow_server("reset") as srv, pytest.raises(DownloadError) as caught:
        fetcher(timeout=2).get(f"{srv.url}/x", max_length=200_000)
    assert f"127.0.0.1:{srv.port} reset the connection after 1000 bytes" in str(caught.value)


def test_limits_come_from_the_environment() -> None:
    config = FetchConfig.from_environ(
        {"UPLEVEL_TIMEOUT": "7.5", "UPLEVEL_DEADLINE": "60", "UPLEVEL_MIN_RATE": "10"}
    )
    assert (config.timeout, config.deadline, config.min_rate) == (7.5, 60, 10)
    assert FetchConfig.from_environ({}).timeout == FetchConfig().timeout == 30
    for bad in ({"UPLEVEL_TIMEOUT": "soon"}, {"UPLEVEL_DEADLINE": "-1"}):
        with pytest.raises(UsageError):
            FetchConfig.from_environ(bad)


def _init(home: Path, url: str, *global_options: str, env: dict[str, str] | None = None) -> dict:
    home.mkdir()
    (home / "README.txt").write_text("a home\n")
    r = run_cli(
        *global_options, "init", "--home", home, "--product", PRODUCT, "--server", url, "--json",
        env=env,
    )  # fmt: skip
    assert r.returncode == 1, r.stdout + r.stderr
    return r.json["error"]  # type: ignore[no-any-return]


def test_cli_timeout_option_bounds_a_dripping_server(tmp_path: Path) -> None:
    with slow_server("drip", interval=0.05, size=400) as srv:
        start = time.monotonic()
        error = _init(tmp_path / "home", srv.url, "--timeout", "1")
        took = time.monotonic() - start
    assert error["type"] == "ServerError", error
    assert "too slow" in error["message"] and f"127.0.0.1:{srv.port}" in error["message"]
    assert took < 15


def test_cli_environment_timeout_bounds_a_stalled_server(tmp_path: Path) -> None:
    with slow_server("stall") as srv:
        start = time.monotonic()
        error = _init(tmp_path / "home", srv.url, env={"UPLEVEL_TIMEOUT": "1"})
        took = time.monotonic() - start
    assert "timed out" in error["message"] and f"127.0.0.1:{srv.port}" in error["message"]
    assert took < 15


def test_cli_refused_connection_is_named(tmp_path: Path) -> None:
    port = closed_port()
    error = _init(tmp_path / "home", f"http://127.0.0.1:{port}")
    assert f"connection refused by 127.0.0.1:{port}" in error["message"], error
