"""Where a subscriber token comes from: UPLEVEL_TOKEN, then --token-file, then the
credentials file (0600 in a 0700 directory)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from uplevel.client.credentials import credentials_path, resolve_token, store_token
from uplevel.errors import UsageError

SERVER = "https://updates.example.com"


@pytest.fixture(autouse=True)
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("UPLEVEL_TOKEN", raising=False)
    return tmp_path / "config"


def test_a_stored_token_is_found_again_for_the_same_server(config_home: Path) -> None:
    path = store_token(SERVER + "/", "s3cret")
    assert path == config_home / "uplevel" / "credentials.json" == credentials_path()
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert resolve_token(SERVER) == "s3cret"  # the trailing slash does not matter
    assert resolve_token("https://other.example.com") is None
    store_token("https://other.example.com", "t2")
    assert json.loads(path.read_text())["servers"] == {
        SERVER: "s3cret",
        "https://other.example.com": "t2",
    }


def test_the_environment_wins_over_a_token_file_and_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_token(SERVER, "from-file")
    token_file = tmp_path / "token"
    token_file.write_text("from-token-file\n")
    assert resolve_token(SERVER, token_file) == "from-token-file"
    monkeypatch.setenv("UPLEVEL_TOKEN", " from-env \n")
    assert resolve_token(SERVER, token_file) == "from-env"


def test_an_empty_or_missing_token_file_is_a_usage_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(UsageError, match="is empty"):
        resolve_token(SERVER, empty)
    with pytest.raises(UsageError, match="--token-file"):
        resolve_token(SERVER, tmp_path / "absent")


@pytest.mark.parametrize(
    "content", [b"{not json", b'{"schema_version": 2, "servers": {}}', b'{"servers": []}']
)
def test_a_damaged_credentials_file_is_named_not_ignored(config_home: Path, content: bytes) -> None:
    path = config_home / "uplevel" / "credentials.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(UsageError, match=str(path)):
        resolve_token(SERVER)
