"""Where a subscriber's token comes from: UPLEVEL_TOKEN, --token-file, or the credentials file.

The credentials file (`$XDG_CONFIG_HOME/uplevel/credentials.json`, else
`~/.config/uplevel/credentials.json`) maps server URLs to tokens; it is written
with mode 0600 in a 0700 directory. Tokens are never taken from the command line
(process lists show arguments) and never printed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from uplevel.core import jsonstrict
from uplevel.engine import fsio
from uplevel.errors import UsageError

CREDENTIALS_SCHEMA = 1


def credentials_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "uplevel" / "credentials.json"


def _normalise(server: str) -> str:
    return server.rstrip("/")


def _load(path: Path) -> dict[str, str]:
    try:
        doc = jsonstrict.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc})") from exc
    if doc.get("schema_version") != CREDENTIALS_SCHEMA or not isinstance(doc.get("servers"), dict):
        raise UsageError(f"{path}: not an uplevel credentials file of schema {CREDENTIALS_SCHEMA}")
    return {str(k): str(v) for k, v in doc["servers"].items()}


def store_token(server: str, token: str) -> Path:
    """Remember `token` for `server` in the credentials file (0600)."""
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    servers = _load(path)
    servers[_normalise(server)] = token
    doc = {"schema_version": CREDENTIALS_SCHEMA, "servers": servers}
    fsio.write_durable(path, json.dumps(doc, indent=1).encode(), mode=0o600)
    return path


def resolve_token(server: str, token_file: Path | None = None) -> str | None:
    """The token to use for `server`: UPLEVEL_TOKEN, then --token-file, then the credentials file."""
    env = os.environ.get("UPLEVEL_TOKEN")
    if env:
        return env.strip()
    if token_file is not None:
        try:
            token = token_file.read_text().strip()
        except OSError as exc:
            raise UsageError(f"--token-file {token_file}: {exc.strerror}") from exc
        if not token:
            raise UsageError(f"--token-file {token_file} is empty")
        return token
    return _load(credentials_path()).get(_normalise(server))
