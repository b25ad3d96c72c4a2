"""Path rules: which relative paths a bundle may name, and whether a path is safe in a home.

`check_relative` is pure. `check_in_home` looks at the home (lstat only) to refuse
writing through a symlinked parent: a bundle must never make uplevel write outside
the home, however the home's directories are linked.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from uplevel.errors import UnsafePathError

STATE_DIR = "updates/uplevel"
"""uplevel's own state inside the home (same filesystem, so backups are renames)."""


_PLAIN = re.compile(r"(?:(?!\.\.?(?:/|$))[^/\x00\\]+/)*(?!\.\.?$)[^/\x00\\]+")
"""Relative, '/'-separated, no empty, '.' or '..' component, no NUL or backslash."""


def check_relative(path: str, *, where: str = "path") -> str:
    """Return `path` if it is a plain relative '/'-separated path, else raise UnsafePathError."""
    if not isinstance(path, str) or not path:
        raise UnsafePathError(f"{where}: empty path")
    if not _PLAIN.fullmatch(path):
        if "\x00" in path or "\\" in path:
            raise UnsafePathError(f"{where}: {path!r} contains a NUL byte or a backslash")
        if path.startswith("/"):
            raise UnsafePathError(f"{where}: {path!r} is absolute")
        raise UnsafePathError(
            f"{where}: {path!r} is not a normalised relative path ('..', '.', '//')"
        )
    if is_state_path(path):
        raise UnsafePathError(f"{where}: {path!r} is inside uplevel's state directory {STATE_DIR}/")
    return path


def is_state_path(path: str) -> bool:
    return path == STATE_DIR or path.startswith(STATE_DIR + "/")


def check_in_home(home: Path, path: str, known_dirs: set[str] | None = None) -> None:
    """Refuse `path` if any existing parent directory in the home is a symlink or not a dir.

    `known_dirs` memoises parents already found to be real directories within one check.
    """
    root = str(home)
    parts = path.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        rel = "/".join(parts[:i])
        if known_dirs is not None and rel in known_dirs:
            continue
        try:
            st = os.lstat(f"{root}/{rel}")
        except FileNotFoundError:
            return  # the rest will be created by uplevel as real directories
        if stat.S_ISLNK(st.st_mode):
            raise UnsafePathError(
                f"{path}: its parent {rel} is a symlink in the home; uplevel never writes through symlinks",
                hint="replace the symlink with a real directory, or remove the path from the update",
            )
        if not stat.S_ISDIR(st.st_mode):
            raise UnsafePathError(f"{path}: its parent {rel} is not a directory in the home")
        if known_dirs is not None:
            known_dirs.add(rel)


def parents(path: str) -> list[str]:
    """'a/b/c' → ['a', 'a/b'] (outermost first)."""
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]
