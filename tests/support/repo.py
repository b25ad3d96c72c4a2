"""Repositories for the publisher's tests: packs as zips, new repositories, a TUF client reading one straight from disk."""

from __future__ import annotations

import os
import shutil
import stat
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tuf.api.exceptions import DownloadHTTPError
from tuf.ngclient.fetcher import FetcherInterface
from tuf.ngclient.updater import Updater

from tests.support.homes import Snapshot, snapshot
from uplevel.devtools.sample import PRODUCT
from uplevel.repo.config import DEFAULT_EXPIRES_DAYS
from uplevel.repo.roles import init_repo

BASE_URL = "http://repo.test"


@dataclass(frozen=True)
class Member:
    """One zip member: `mode` is the full st_mode stored in external_attr (0: none)."""

    name: str
    data: bytes = b""
    mode: int = stat.S_IFREG | 0o644


def write_zip(out: Path, members: list[Member]) -> Path:
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        warnings.simplefilter("ignore", UserWarning)  # hostile zips repeat names on purpose
        for m in members:
            info = zipfile.ZipInfo(m.name, (2024, 1, 1, 0, 0, 0))
            if m.mode:
                info.external_attr = m.mode << 16
            else:  # as Windows tools write it: only the MS-DOS archive bit, no unix mode
                info.create_system, info.external_attr = 0, 0x20
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, m.data)
    return out


def tree_members(tree: Path, top: str | None = PRODUCT) -> list[Member]:
    """A tree as zip members, like WSO2 packs: under one top folder, dirs listed."""
    prefix = f"{top}/" if top else ""
    members = [Member(prefix, mode=stat.S_IFDIR | 0o755)] if top else []
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            rel = prefix + path.relative_to(tree).as_posix()
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                members.append(Member(rel, os.readlink(path).encode(), st.st_mode))
            elif stat.S_ISDIR(st.st_mode):
                members.append(Member(rel + "/", mode=st.st_mode))
            else:
                members.append(Member(rel, path.read_bytes(), st.st_mode))
    return members


def repo_snapshot(repo: Path) -> Snapshot:
    """Every path of a repository (the lock file's pid aside)."""
    snap = snapshot(repo, include_state=True)
    snap.pop(".lock", None)
    return snap


def copy_tree(src: Path, dst: Path, change: Callable[[Path], None] | None = None) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    if change:
        change(dst)
    return dst


class RepoFetcher(FetcherInterface):
    """Serves a repository directory to python-tuf's client, as the server will."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo

    def _fetch(self, url: str) -> Iterator[bytes]:
        rel = url.removeprefix(BASE_URL + "/")
        try:
            data = (self.repo / rel).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise DownloadHTTPError(f"{rel} not found", 404) from None
        return iter([data])


def tuf_client(repo: Path, workdir: Path, bootstrap: bytes | None = None) -> Updater:
    """A python-tuf client with fresh caches, trusting `bootstrap` (default: 1.root.json)."""
    meta, targets = workdir / "meta", workdir / "targets"
    for d in (meta, targets):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    return Updater(
        str(meta),
        f"{BASE_URL}/metadata/",
        str(targets),
        f"{BASE_URL}/targets/",
        RepoFetcher(repo),
        bootstrap=bootstrap or (repo / "metadata/1.root.json").read_bytes(),
    )


def new_repo(path: Path, **thresholds: int) -> Path:
    init_repo(
        path,
        expires_days=dict(DEFAULT_EXPIRES_DAYS),
        thresholds={r: thresholds.get(r, 1) for r in DEFAULT_EXPIRES_DAYS},
    )
    return path
