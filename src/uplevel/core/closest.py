"""Which published level a home is closest to (pure).

Used when a home is adopted from a server without `--level`, and by migrate for a
home uplevel never adopted: the level whose pristine tree shares the most files
(same path, same content) with the home wins; ties go to the newer level.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from uplevel.core.manifest import Entry


@dataclass(frozen=True, kw_only=True)
class Closeness:
    level: int
    matching: int  # pristine files present with the same content
    differing: int  # pristine files present with other content
    missing: int  # pristine files absent from the home


def closeness(level: int, pristine: Mapping[str, Entry], home: Mapping[str, Entry]) -> Closeness:
    matching = differing = missing = 0
    for path, entry in pristine.items():
        mine = home.get(path)
        if mine is None:
            missing += 1
        elif (
            mine.kind == entry.kind and mine.sha256 == entry.sha256 and mine.target == entry.target
        ):
            matching += 1
        else:
            differing += 1
    return Closeness(level=level, matching=matching, differing=differing, missing=missing)


def closest_level(
    candidates: Mapping[int, Mapping[str, Entry]], home: Mapping[str, Entry]
) -> tuple[Closeness, list[Closeness]]:
    """The best candidate and every candidate's score (ordered by level)."""
    if not candidates:
        raise ValueError("no published level to compare with")
    scores = [closeness(lvl, m, home) for lvl, m in sorted(candidates.items())]
    best = max(scores, key=lambda c: (c.matching - c.differing - c.missing, c.level))
    return best, scores
