"""Line-based three-way merge of text files with diff3 semantics.

Works on bytes so any ASCII-compatible encoding (UTF-8, latin-1, ...) and any
mix of LF/CRLF endings round-trips unchanged. Pure: no I/O, no global state.
"""

from __future__ import annotations

import difflib
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass

_SNIFF_BYTES = 8192
# Myers costs O(D^2) in the number of edits D; past this we hand the region to
# difflib. autojunk stays on there: without it, repetitive rewritten files take
# minutes, and alignment quality matters little once most lines changed anyway.
_MYERS_MAX_EDITS = 400

_Block = tuple[int, int, int]  # (start in a, start in b, length)


@dataclass(frozen=True, kw_only=True)
class TextConflict:
    """One conflict region; `line` is the 1-based line of its "<<<<<<<" marker."""

    line: int
    base: tuple[bytes, ...]
    ours: tuple[bytes, ...]
    theirs: tuple[bytes, ...]


@dataclass(frozen=True, kw_only=True)
class TextMergeResult:
    """The merged bytes (with conflict markers if any) and the conflicts in it."""

    merged: bytes
    conflicts: tuple[TextConflict, ...]

    @property
    def clean(self) -> bool:
        return not self.conflicts


def is_text(data: bytes) -> bool:
    """True unless a NUL byte occurs in the first 8 KiB.

    Same heuristic as git: archives, class files and images all have NULs early,
    while text almost never does. We deliberately do not require valid UTF-8:
    the merge is byte-based, so latin-1 or Shift-JIS configs merge just as well.
    (UTF-16 has NULs and is rightly treated as binary: its lines are not b"\\n"-split.)
    """
    return b"\0" not in data[:_SNIFF_BYTES]


def merge_text(
    base: bytes,
    ours: bytes,
    theirs: bytes,
    *,
    base_label: str = "original",
    ours_label: str = "local",
    theirs_label: str = "new",
) -> TextMergeResult:
    """Merge `ours` and `theirs` against `base` like `git merge-file --diff3`.

    Runs of lines unchanged on both sides are stable; every chunk between them
    takes the side that changed, or one copy if both made the same change, or
    else becomes a conflict. An empty base (both sides added the file) yields at
    most one conflict, narrowed to the lines where the two sides differ.
    """
    b, o, t = _split(base), _split(ours), _split(theirs)
    eol = _eol(o, t, b)
    out: list[bytes] = []
    conflicts: list[TextConflict] = []

    def marker(sign: bytes, label: str) -> bytes:
        return sign * 7 + (b" " + label.encode() if label else b"") + eol

    def side(lines: Sequence[bytes]) -> None:
        out.extend(lines)
        if lines and not lines[-1].endswith(b"\n"):
            out[-1] += eol  # keep the next marker at the start of a line

    def resolve(cb: list[bytes], co: list[bytes], ct: list[bytes]) -> None:
        if co in (cb, ct):
            out.extend(ct)
        elif ct == cb:
            out.extend(co)
        else:
            conflicts.append(
                TextConflict(line=len(out) + 1, base=tuple(cb), ours=tuple(co), theirs=tuple(ct))
            )
            out.append(marker(b"<", ours_label))
            side(co)
            out.append(marker(b"|", base_label))
            side(cb)
            out.append(marker(b"=", ""))
            side(ct)
            out.append(marker(b">", theirs_label))

    if not b:
        pre, suf = _common_ends(o, t)
        out.extend(o[:pre])
        resolve([], o[pre : len(o) - suf], t[pre : len(t) - suf])
        out.extend(o[len(o) - suf :])
    else:
        ib = io = it = 0
        for sb, so, st, n in _stable(b, o, t):
            resolve(b[ib:sb], o[io:so], t[it:st])
            out.extend(b[sb : sb + n])
            ib, io, it = sb + n, so + n, st + n
    return TextMergeResult(merged=b"".join(out), conflicts=tuple(conflicts))


def _split(data: bytes) -> list[bytes]:
    """Lines with their endings; only b"\\n" ends a line, so b"\\r\\n" stays whole."""
    parts = data.split(b"\n")
    lines = [p + b"\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _eol(*files: list[bytes]) -> bytes:
    """Line ending for markers: CRLF if the first terminated line (ours first) uses it."""
    for lines in files:
        if lines and lines[0].endswith(b"\n"):
            return b"\r\n" if lines[0].endswith(b"\r\n") else b"\n"
    return b"\n"


def _stable(
    b: Sequence[Hashable], o: Sequence[Hashable], t: Sequence[Hashable]
) -> Iterator[tuple[int, int, int, int]]:
    """Yield (base, ours, theirs, length) runs where all three agree, then an empty end marker."""
    return stable_runs(_matching_blocks(b, o), _matching_blocks(b, t), (len(b), len(o), len(t)))


def diff3_regions(
    b: Sequence[Hashable], o: Sequence[Hashable], t: Sequence[Hashable]
) -> Iterator[tuple[bool, range, range, range]]:
    """diff3 over any sequences of comparable items: (stable, base, ours, theirs) index
    ranges in order; a stable region is equal on all three sides, the others lie between.
    The TOML engine merges its sequences of settings and comment lines with this."""
    ib = io = it = 0
    for sb, so, st, n in _stable(b, o, t):
        if (sb, so, st) != (ib, io, it):
            yield False, range(ib, sb), range(io, so), range(it, st)
        if n:
            yield True, range(sb, sb + n), range(so, so + n), range(st, st + n)
        ib, io, it = sb + n, so + n, st + n


def stable_runs(
    ours_blocks: Sequence[tuple[int, int, int]],
    theirs_blocks: Sequence[tuple[int, int, int]],
    lengths: tuple[int, int, int],
) -> Iterator[tuple[int, int, int, int]]:
    """diff3's stable runs: where base↔ours and base↔theirs matching blocks overlap on base,
    as (base, ours, theirs, length), then an empty run at the three lengths. Shared by the
    line merge and the list merge of structured formats (each with its own matcher)."""
    ob, tb = ours_blocks, theirs_blocks
    i = j = 0
    while i < len(ob) and j < len(tb):
        b1, o1, n1 = ob[i]
        b2, t2, n2 = tb[j]
        lo, hi = max(b1, b2), min(b1 + n1, b2 + n2)
        if lo < hi:
            yield lo, o1 + lo - b1, t2 + lo - b2, hi - lo
        if b1 + n1 < b2 + n2:
            i += 1
        else:
            j += 1
    yield (*lengths, 0)


def _common_ends(a: Sequence[Hashable], b: Sequence[Hashable]) -> tuple[int, int]:
    """Lengths of the common prefix and (non-overlapping) common suffix."""
    n = min(len(a), len(b))
    pre = 0
    while pre < n and a[pre] == b[pre]:
        pre += 1
    suf = 0
    while suf < n - pre and a[-1 - suf] == b[-1 - suf]:
        suf += 1
    return pre, suf


def _matching_blocks(a: Sequence[Hashable], b: Sequence[Hashable]) -> list[_Block]:
    """Ordered, non-overlapping runs of equal lines; common ends are trimmed first."""
    pre, suf = _common_ends(a, b)
    ma, mb = a[pre : len(a) - suf], b[pre : len(b) - suf]
    mid = _myers(ma, mb, _MYERS_MAX_EDITS)
    if mid is None:
        matcher = difflib.SequenceMatcher(None, ma, mb, autojunk=True)
        mid = [(i, j, n) for i, j, n in matcher.get_matching_blocks() if n]
    blocks = [(0, 0, pre)] if pre else []
    blocks += [(i + pre, j + pre, n) for i, j, n in mid]
    if suf:
        blocks.append((len(a) - suf, len(b) - suf, suf))
    return blocks


def _myers(a: Sequence[Hashable], b: Sequence[Hashable], max_d: int) -> list[_Block] | None:
    """Matching blocks of a shortest edit script (Myers 1986), or None past max_d edits.

    Fast when the sides mostly agree, where difflib goes quadratic on lines that
    repeat a lot (blank lines, closing braces).
    """
    n, m = len(a), len(b)
    off = max_d + 1
    v = [0] * (2 * off + 1)  # v[off + k]: furthest x reached on diagonal k = x - y
    trace: list[list[int]] = []
    for d in range(max_d + 1):
        trace.append(v[:])
        for k in range(-d, d + 1, 2):
            if k == -d or (k != d and v[off + k - 1] < v[off + k + 1]):
                x = v[off + k + 1]  # step down (insert from b)
            else:
                x = v[off + k - 1] + 1  # step right (delete from a)
            y = x - k
            while x < n and y < m and a[x] == b[y]:
                x += 1
                y += 1
            v[off + k] = x
            if x >= n and y >= m:
                return _backtrack(trace, off, x, y)
    return None


def _backtrack(trace: list[list[int]], off: int, x: int, y: int) -> list[_Block]:
    """Walk the saved frontiers back from the end, collecting each diagonal run."""
    blocks: list[_Block] = []
    for d in range(len(trace) - 1, -1, -1):
        v, k = trace[d], x - y
        if d == 0:
            px = py = sx = sy = 0
        else:
            down = k == -d or (k != d and v[off + k - 1] < v[off + k + 1])
            pk = k + 1 if down else k - 1
            px = v[off + pk]
            py = px - pk
            sx, sy = (px, py + 1) if down else (px + 1, py)
        if x > sx:
            blocks.append((sx, sy, x - sx))
        x, y = px, py
    blocks.reverse()
    return blocks
