"""Read a product's pack zip as a manifest, without extracting a byte to disk.

A pack is the publisher's input, but it still decides paths on thousands of
servers, so every member name is checked before any content is read: absolute
names, `..`, backslashes, NUL bytes, repeated names and a path that is both a
file and a directory are refused. Symlinks (external_attr S_IFLNK) become
symlink entries; modes come from external_attr (permission bits only: setuid,
setgid and sticky bits are never published), defaulting to 0644 for files and
0755 for directories. When every member lies under one top folder (WSO2 packs:
`wso2am-4.2.0/...`), that folder is stripped.
"""

from __future__ import annotations

import hashlib
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from uplevel.core.manifest import Entry, Kind, Manifest
from uplevel.core.paths import check_relative, parents
from uplevel.errors import UnsafePathError, UplevelError

DEFAULT_FILE_MODE = 0o644
DEFAULT_DIR_MODE = 0o755


@dataclass(frozen=True)
class PackMember:
    path: str
    info: zipfile.ZipInfo
    kind: Kind
    mode: int


def _kind_and_mode(info: zipfile.ZipInfo, where: str) -> tuple[Kind, int]:
    st_mode = info.external_attr >> 16
    fmt = stat.S_IFMT(st_mode)
    kind: Kind
    if info.is_dir() or fmt == stat.S_IFDIR:
        kind = "dir"
    elif fmt == stat.S_IFLNK:
        kind = "symlink"
    elif fmt in (0, stat.S_IFREG):
        kind = "file"
    else:
        raise UnsafePathError(f"{where}: not a file, directory or symlink (mode {st_mode:o})")
    perms = stat.S_IMODE(st_mode) & 0o777
    if perms == 0:
        perms = DEFAULT_DIR_MODE if kind == "dir" else DEFAULT_FILE_MODE
    return kind, perms


def _check_name(name: str, where: str) -> str:
    if "\x00" in name:
        raise UnsafePathError(f"{where}: the name contains a NUL byte")
    if "\\" in name:
        raise UnsafePathError(f"{where}: the name contains a backslash")
    if name.startswith("/"):
        raise UnsafePathError(f"{where}: the name is absolute")
    if ".." in name.split("/"):
        raise UnsafePathError(f"{where}: the name contains '..'")
    return name.rstrip("/")


def plan_members(infos: list[zipfile.ZipInfo], *, source: str) -> list[PackMember]:
    """Check every member name and decide each path, kind and mode (reads no content)."""
    named: list[tuple[str, zipfile.ZipInfo]] = []
    for info in infos:
        where = f"{source}: member {info.orig_filename!r}"
        named.append((_check_name(info.orig_filename, where), info))
    tops = {name.split("/", 1)[0] for name, _ in named}
    strip = len(tops) == 1 and any("/" in name for name, _ in named)
    if strip:
        top = tops.pop()
        if any(name == top and not info.is_dir() for name, info in named):
            strip = False
        else:
            named = [(name[len(top) + 1 :], info) for name, info in named if name != top]
    members: list[PackMember] = []
    seen: dict[str, PackMember] = {}
    for path, info in named:
        where = f"{source}: member {info.orig_filename!r}"
        check_relative(path, where=where)
        if path in seen:
            raise UnsafePathError(f"{where}: {path!r} appears more than once in the pack")
        kind, mode = _kind_and_mode(info, where)
        member = PackMember(path, info, kind, mode)
        seen[path] = member
        members.append(member)
    for member in members:
        for parent in parents(member.path):
            other = seen.get(parent)
            if other is not None and other.kind != "dir":
                raise UnsafePathError(
                    f"{source}: {parent!r} is a {other.kind} but {member.path!r} lies under it"
                )
    return members


class Pack:
    """An opened pack zip whose member names have been checked. Use as a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._zip = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as exc:
            raise UplevelError(f"{path}: not a readable zip ({exc})") from exc
        try:
            self.members = plan_members(self._zip.infolist(), source=str(path))
        except BaseException:
            self._zip.close()
            raise

    def __enter__(self) -> Pack:
        return self

    def __exit__(self, *exc: object) -> None:
        self._zip.close()

    def _read(self, member: PackMember) -> bytes:
        try:
            return self._zip.read(member.info)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError) as exc:
            raise UplevelError(
                f"{self.path}: member {member.info.orig_filename!r} cannot be read ({exc})",
                hint="the pack is damaged or encrypted; download it again",
            ) from exc

    def read(self, on_content: Callable[[str, str, bytes], None]) -> Manifest:
        """The pack's manifest; `on_content(path, sha256, data)` sees each file's bytes once."""
        entries: dict[str, Entry] = {}
        has_children = {p for m in self.members for p in parents(m.path)}
        for m in self.members:
            if m.kind == "dir":
                if m.path not in has_children:
                    entries[m.path] = Entry(kind="dir", mode=m.mode)
            elif m.kind == "symlink":
                try:
                    target = self._read(m).decode("utf-8")
                except UnicodeDecodeError:
                    target = ""
                if not target or "\x00" in target:
                    raise UnsafePathError(
                        f"{self.path}: symlink {m.path!r} has no usable target (empty, NUL or not UTF-8)"
                    )
                entries[m.path] = Entry(kind="symlink", target=target)
            else:
                data = self._read(m)
                sha = hashlib.sha256(data).hexdigest()
                on_content(m.path, sha, data)
                entries[m.path] = Entry(kind="file", mode=m.mode, size=len(data), sha256=sha)
        return Manifest(entries)
