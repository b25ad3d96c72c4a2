"""merge: a three-way merge of one file, by structure or by lines (also a git merge driver).

The file's result is written durably over OURS (or to the output given), keeping its mode.
"""

from __future__ import annotations

from pathlib import Path

from uplevel.engine import fsio
from uplevel.errors import UsageError
from uplevel.merge.engine import merge
from uplevel.merge.result import MergeResult, UnparsableInput


def merge_file(
    base: Path, ours: Path, theirs: Path, *, output: Path | None, fmt: str, name: str | None
) -> MergeResult:
    """Merge THEIRS's changes from BASE into OURS; `name` (the file's path in the home)
    chooses the format when `fmt` is auto. UsageError when the files cannot be merged."""
    try:
        result = merge(
            base.read_bytes(), ours.read_bytes(), theirs.read_bytes(), fmt, path=name or str(ours)
        )
        target = output or ours
        mode = target.stat().st_mode & 0o7777 if target.exists() else 0o644
        fsio.write_durable(target, result.merged, mode=mode)
    except (UnparsableInput, OSError, ValueError) as exc:
        raise UsageError(f"cannot merge: {exc}") from exc
    return result
