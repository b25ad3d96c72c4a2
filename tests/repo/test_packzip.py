"""Reading pack zips without extracting: top folder, symlinks, modes, and every refused name."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from tests.support.repo import Member, write_zip
from uplevel.core.manifest import Entry
from uplevel.errors import UnsafePathError
from uplevel.repo.packzip import Pack

TOP = "wso2am-4.2.0"
DIR = stat.S_IFDIR | 0o755
LINK = stat.S_IFLNK | 0o777


def read(path: Path) -> tuple[dict[str, Entry], dict[str, bytes]]:
    seen: dict[str, bytes] = {}

    def on_content(p: str, sha: str, data: bytes) -> None:
        assert hashlib.sha256(data).hexdigest() == sha
        seen[p] = data

    with Pack(path) as pack:
        return dict(pack.read(on_content)), seen


def test_top_folder_symlink_executable_and_empty_dir(tmp_path: Path) -> None:
    pack = write_zip(
        tmp_path / "p.zip",
        [
            Member(f"{TOP}/", mode=DIR),
            Member(f"{TOP}/bin/", mode=DIR),
            Member(f"{TOP}/bin/run.sh", b"#!/bin/sh\n", stat.S_IFREG | 0o755),
            Member(f"{TOP}/bin/start.sh", b"run.sh", LINK),
            Member(f"{TOP}/repository/logs/", mode=stat.S_IFDIR | 0o750),
            Member(f"{TOP}/README.txt", b"hello\n"),
            Member(f"{TOP}/windows.txt", b"no unix mode", mode=0),
        ],
    )
    entries, contents = read(pack)
    assert entries == {
        "bin/run.sh": Entry(
            kind="file", mode=0o755, size=10, sha256=hashlib.sha256(b"#!/bin/sh\n").hexdigest()
        ),
        "bin/start.sh": Entry(kind="symlink", target="run.sh"),
        "repository/logs": Entry(kind="dir", mode=0o750),
        "README.txt": Entry(
            kind="file", mode=0o644, size=6, sha256=hashlib.sha256(b"hello\n").hexdigest()
        ),
        "windows.txt": Entry(
            kind="file", mode=0o644, size=12, sha256=hashlib.sha256(b"no unix mode").hexdigest()
        ),
    }
    assert set(contents) == {"bin/run.sh", "README.txt", "windows.txt"}


def test_no_stripping_without_a_single_top_folder(tmp_path: Path) -> None:
    pack = write_zip(tmp_path / "p.zip", [Member("a/x", b"1"), Member("b/y", b"2")])
    assert set(read(pack)[0]) == {"a/x", "b/y"}


def test_setuid_bits_are_not_published(tmp_path: Path) -> None:
    pack = write_zip(tmp_path / "p.zip", [Member("x", b"1", stat.S_IFREG | 0o4755)])
    assert read(pack)[0]["x"].mode == 0o755


def _nul_zip(tmp_path: Path) -> Path:
    """zipfile cannot write a NUL in a name: write 'evilXname' and patch the bytes."""
    path = write_zip(tmp_path / "nul.zip", [Member(f"{TOP}/ok", b"1"), Member(f"{TOP}/evilXname")])
    path.write_bytes(path.read_bytes().replace(b"evilXname", b"evil\x00name"))
    return path


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([Member(f"{TOP}/a", b"1"), Member(f"{TOP}/a", b"2")], "more than once"),
        ([Member(f"{TOP}/a", b"1"), Member(f"{TOP}/../evil", b"x")], "contains '..'"),
        ([Member("ok", b"1"), Member("/etc/passwd", b"x")], "absolute"),
        ([Member(f"{TOP}/a\\b", b"1")], "backslash"),
        ([Member(f"{TOP}/a", b"1"), Member(f"{TOP}/a/b", b"2")], "is a file but"),
        ([Member(f"{TOP}/l", b"t", LINK), Member(f"{TOP}/l/b", b"2")], "is a symlink but"),
        ([Member(f"{TOP}/a//b", b"1")], "not a normalised"),
        ([Member(f"{TOP}/updates/uplevel/x", b"1")], "state directory"),
        ([Member(f"{TOP}/fifo", mode=stat.S_IFIFO | 0o644)], "not a file, directory"),
    ],
)
def test_refused_member_names(tmp_path: Path, members: list[Member], message: str) -> None:
    pack = write_zip(tmp_path / "bad.zip", members)
    with pytest.raises(UnsafePathError, match=message):
        Pack(pack)


def test_nul_in_a_member_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsafePathError, match="NUL"):
        Pack(_nul_zip(tmp_path))


def test_symlink_without_target_is_refused(tmp_path: Path) -> None:
    pack = write_zip(tmp_path / "p.zip", [Member("l", b"", LINK)])
    with Pack(pack) as p, pytest.raises(UnsafePathError, match="no usable target"):
        p.read(lambda *_: None)
