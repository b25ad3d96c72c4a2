"""Path rules: which relative paths a bundle may name, and whether a path is safe in a home.

Pure: the check that looks at the home itself (a symlinked parent) is
`engine.fsio.check_in_home`.
"""

from __future__ import annotations

import re

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


def parents(path: str) -> list[str]:
    """'a/b/c' → ['a', 'a/b'] (outermost first)."""
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]
