"""Strict JSON for signed and published documents: a repeated key is an error, not a choice.

Pure. Plain json keeps the last of two equal keys silently, so two readers of one signed
file could see different values; every signed or descriptor document is read through here.
"""

from __future__ import annotations

import json
from typing import Any


def loads(data: bytes | str) -> Any:
    """json.loads whose every failure is a ValueError: a document nested deeper than the
    interpreter's recursion limit (100,000 brackets) is refused, not a RecursionError."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def loads_strict(data: bytes | str) -> Any:
    """json.loads that refuses an object repeating a key (ValueError). Plain json keeps the
    last one silently, so two readers of one signed file could see different values."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in items:
            if k in out:
                raise ValueError(f"key {k!r} appears twice")
            out[k] = v
        return out

    try:
        return json.loads(data, object_pairs_hook=pairs)
    except RecursionError:
        raise ValueError("nested too deeply") from None
