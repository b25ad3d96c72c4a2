"""Issue 16's low items 7, 10, 11 on the real CLI: a bad server URL and an absurd level are
usage errors (exit 2) caught before anything is read or written, and a URL carrying a
token is refused without echoing it (it would have been stored in a 0644 state.json)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.homes import run_cli
from uplevel.core.paths import STATE_DIR
from uplevel.devtools.sample import PRODUCT

TOKEN = "s3cr3t-TOKEN-value"


@pytest.fixture
def bare_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "README.txt").write_text("a home\n")
    return home


@pytest.mark.parametrize(
    "url",
    ["ftp://updates.example.com/", "not a url", "http://127.0.0.1:99999", "http:///nohost"],
)
def test_a_bad_server_url_is_a_usage_error(bare_home: Path, url: str) -> None:
    r = run_cli("init", "--home", bare_home, "--product", PRODUCT, "--server", url)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "--server" in r.stderr
    assert not (bare_home / STATE_DIR).exists()


@pytest.mark.parametrize("command", [("init", "--product", PRODUCT), ("login",)])
def test_credentials_in_the_url_are_refused_and_not_echoed(
    bare_home: Path, command: tuple[str, ...]
) -> None:
    url = f"http://acme:{TOKEN}@127.0.0.1:8443"
    home = ("--home", str(bare_home)) if command[0] == "init" else ()
    r = run_cli(*command, *home, "--server", url, "--json")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "credentials" in r.stderr and TOKEN not in r.stdout + r.stderr
    assert not (bare_home / STATE_DIR).exists()


def test_an_absurd_level_is_a_usage_error(bare_home: Path) -> None:
    r = run_cli("init", "--home", bare_home, "--product", PRODUCT, "--level", "9" * 21)
    assert r.returncode == 2 and "--level" in r.stderr, r.stdout + r.stderr
    assert not (bare_home / STATE_DIR).exists()
    assert (
        run_cli("init", "--home", bare_home, "--product", PRODUCT, "--level", "7").returncode == 0
    )
