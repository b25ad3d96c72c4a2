"""The three-way merge, whatever the format: pick the engine, fall back to lines.

Pure: bytes in, MergeResult out. A structured engine (TOML, XML, YAML, JSON,
.properties) merges by setting; when one side does not parse in its format (the
operator broke the syntax, or a `.j2` template is not plain XML) the line merge
takes over and the result says why in `fallback`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from uplevel.merge.result import MergeResult, SettingConflict, UnparsableInput
from uplevel.merge.text import is_text, merge_text

FORMATS = ("toml", "xml", "yaml", "json", "properties", "text")
Engine = Callable[[bytes, bytes, bytes], MergeResult]

_SUFFIXES = {
    ".toml": "toml",
    ".xml": "xml",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
    ".properties": "properties",
}


def detect_format(path: str | None) -> str:
    """The format a file name implies; templates (`.j2`) and the rest merge as lines."""
    if not path:
        return "text"
    name = path.rsplit("/", 1)[-1].lower()
    for suffix, fmt in _SUFFIXES.items():
        if name.endswith(suffix):
            return fmt
    return "text"


def engine_for(fmt: str) -> Engine | None:
    """The structured engine of a format (imported on first use), or None for text."""
    if fmt == "text":
        return None
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    module = importlib.import_module(f"uplevel.merge.{fmt}")
    engine: Engine = getattr(module, f"merge_{fmt}")
    return engine


def merge(
    base: bytes, ours: bytes, theirs: bytes, fmt: str = "auto", *, path: str | None = None
) -> MergeResult:
    """Merge `ours` and `theirs`, both changed from `base`. `fmt` "auto" uses `path`'s name."""
    chosen = detect_format(path) if fmt == "auto" else fmt
    if ours == theirs or theirs == base:
        return MergeResult(merged=ours, conflicts=(), format=chosen)
    if ours == base:
        return MergeResult(merged=theirs, conflicts=(), format=chosen)
    fallback = None
    try:
        engine = engine_for(chosen)
    except ModuleNotFoundError as exc:  # e.g. a missing optional parser library
        engine, fallback = None, f"{chosen}: no engine ({exc}); merged line by line"
    if engine is not None:
        try:
            return engine(base, ours, theirs)
        except UnparsableInput as exc:
            fallback = f"{chosen}: {exc}; merged line by line"
    return line_merge(base, ours, theirs, fallback=fallback)


def line_merge(
    base: bytes, ours: bytes, theirs: bytes, *, fallback: str | None = None
) -> MergeResult:
    """diff3 on lines; conflicts are named by the line of their marker in the result."""
    if not (is_text(base) and is_text(ours) and is_text(theirs)):
        raise UnparsableInput("input", "binary content cannot be merged")
    result = merge_text(base, ours, theirs)
    conflicts = tuple(
        SettingConflict(
            path=f"line {c.line}",
            base=b"".join(c.base).decode(errors="replace"),
            ours=b"".join(c.ours).decode(errors="replace"),
            theirs=b"".join(c.theirs).decode(errors="replace"),
        )
        for c in result.conflicts
    )
    return MergeResult(merged=result.merged, conflicts=conflicts, format="text", fallback=fallback)
