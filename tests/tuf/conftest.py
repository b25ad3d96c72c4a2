"""Fixtures: a live repository server per test and the real `uplevel-tuf-client` in subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.tuf.support import Repo, Server, serving

CLIENT = Path(sys.executable).parent / "uplevel-tuf-client"
PROXY_VARS = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without proxy settings (the servers are on loopback)."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARS}
    env.update(extra)
    return env


def tree(directory: Path) -> dict[str, bytes | str]:
    """Every entry under directory: file bytes, or 'dir' / 'link -> target'."""
    out: dict[str, bytes | str] = {}
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory).as_posix()
        if path.is_symlink():
            out[rel] = f"link -> {os.readlink(path)}"
        elif path.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = path.read_bytes()
    return out


@dataclass
class Client:
    """The console script run the way the tuf-conformance suite runs it."""

    metadata_dir: Path
    target_dir: Path
    server: Server

    def run(self, *args: str | Path, env: dict[str, str] | None = None) -> int:
        proc = subprocess.run(
            [str(CLIENT), *map(str, args)],
            capture_output=True,
            text=True,
            env=env or clean_env(),
            timeout=60,
        )
        self.last_stderr = proc.stderr
        return proc.returncode

    def init(self, root: bytes) -> int:
        root_file = self.metadata_dir.parent / "initial_root.json"
        root_file.write_bytes(root)
        return self.run("--metadata-dir", self.metadata_dir, "init", root_file)

    def refresh(self, env: dict[str, str] | None = None) -> int:
        return self.run(
            "--metadata-url",
            f"{self.server.url}/metadata",
            "--metadata-dir",
            self.metadata_dir,
            "refresh",
            env=env,
        )

    def download(self, *names: str) -> int:
        named = [arg for name in names for arg in ("--target-name", name)]
        return self.run(
            "--metadata-url",
            f"{self.server.url}/metadata",
            "--metadata-dir",
            self.metadata_dir,
            *named,
            "--target-dir",
            self.target_dir,
            "--target-base-url",
            f"{self.server.url}/targets",
            "download",
        )


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
