"""Strict JSON for signed and published documents: a repeated key is an error, not a choice.

Pure. Plain json keeps the last of two equal keys silently, so two readers of one signed
file could see different values; every signed or descriptor document is read through here.
"""

from __future__ import annotations

import json
from typing import Any


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

    return json.loads(data, object_pairs_hook=pairs)
