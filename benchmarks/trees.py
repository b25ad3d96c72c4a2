"""Tree helpers for the benchmark: copy, remove, measure and compare homes.

Why a full digest comparison after every apply and revert: a fast wrong result is worth
nothing, and sampling would miss exactly the kind of bug (one jar left behind, one mode
not restored) that an in-place engine can have. Hashing 700 MB takes about a second here.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from pathlib import Path

STATE_DIR = "updates/uplevel"  # uplevel's own state inside a home: not product content

Digest = dict[str, tuple[str, ...]]


def copy_tree(src: Path, dst: Path) -> None:
    """`cp -a`: keeps modes, mtimes and symlinks, as an operator's copy of a home would."""
    if dst.exists():
        shutil.rmtree(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)


def remove_tree(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)


def bytes_under(path: Path) -> int:
    """Apparent size (sum of st_size) of the regular files under path; 0 if it is absent."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(dirpath, name))
            if stat.S_ISREG(st.st_mode):
                total += st.st_size
    return total


def digest(root: Path, exclude: str = STATE_DIR) -> Digest:
    """Map every path under root (but `exclude`) to its type, mode and content hash."""
    out: Digest = {}
    for dirpath, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        if rel_dir.rstrip("/") == exclude:
            dirs[:] = []
            continue
        for name in dirs + files:
            rel = rel_dir + name
            if rel == exclude:
                continue
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            mode = oct(stat.S_IMODE(st.st_mode))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(full))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", mode)
            else:
                with open(full, "rb") as f:
                    out[rel] = (
                        "file",
                        mode,
                        str(st.st_size),
                        hashlib.file_digest(f, "sha256").hexdigest(),
                    )
    return out


def differences(got: Digest, want: Digest, limit: int = 20) -> list[str]:
    """Human-readable differences between two digests, at most `limit` of them."""
    diffs: list[str] = []
    for path in sorted(set(got) | set(want)):
        a, b = got.get(path), want.get(path)
        if a == b:
            continue
        if a is None:
            diffs.append(f"missing: {path}")
        elif b is None:
            diffs.append(f"unexpected: {path}")
        else:
            diffs.append(f"differs: {path}: {a[:3]} != {b[:3]}")
        if len(diffs) >= limit:
            diffs.append("...")
            break
    return diffs


def free_bytes(path: Path) -> int:
    """Free space on the file system that holds path (or its nearest existing parent)."""
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free
