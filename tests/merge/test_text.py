"""Tests for the diff3-style line merge in uplevel.merge.text."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from unittest.mock import patch

import pytest
from hypothesis import given
from hypothesis import strategies as st

from uplevel.merge import text
from uplevel.merge.text import TextConflict, TextMergeResult, is_text, merge_text

# A tiny alphabet so that edits collide and lines repeat (the hard case for alignment).
LINE = st.sampled_from([b"a\n", b"b\n", b"c\n", b"\n", b"a\r\n"])
TAIL = st.sampled_from([b"", b"a", b"b"])  # optional last line without a newline
LINES = st.lists(LINE, max_size=12)
FILES = st.builds(lambda lines, tail: b"".join(lines) + tail, LINES, TAIL)
SEP = b"--- untouched separator ---\n"  # never produced by LINE


@st.composite
def edited(draw: st.DrawFn, lines: list[bytes]) -> list[bytes]:
    """A few random replace/insert/delete edits of `lines`."""
    out = list(lines)
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(out)))
        j = draw(st.integers(i, min(len(out), i + 3)))
        out[i:j] = draw(st.lists(LINE, max_size=3))
    return out


@st.composite
def triples(draw: st.DrawFn) -> tuple[bytes, bytes, bytes]:
    """(base, ours, theirs) where both sides are edits of base, so they share structure."""
    base = draw(LINES)
    return (
        b"".join(base) + draw(TAIL),
        b"".join(draw(edited(base))) + draw(TAIL),
        b"".join(draw(edited(base))) + draw(TAIL),
    )


@contextmanager
def myers_limit(limit: int) -> Iterator[None]:
    """limit=0 forces the difflib fallback, so both alignment paths get exercised."""
    with patch.object(text, "_MYERS_MAX_EDITS", limit):
        yield


LIMITS = pytest.mark.parametrize("limit", [text._MYERS_MAX_EDITS, 0], ids=["myers", "fallback"])


def check_markers(result: TextMergeResult) -> None:
    """Each conflict's base/ours/theirs lines sit verbatim between well-formed markers."""
    lines = result.merged.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.startswith(b"<<<<<<<")]
    assert starts == [c.line - 1 for c in result.conflicts]
    for c in result.conflicts:
        assert len({c.base, c.ours, c.theirs}) == 3, "a resolvable chunk was reported"
        i = c.line - 1
        assert lines[i].rstrip(b"\r\n") == b"<<<<<<< local"
        i += 1
        for part, marker in (
            (c.ours, b"||||||| original"),
            (c.base, b"======="),
            (c.theirs, b">>>>>>> new"),
        ):
            got = lines[i : i + len(part)]
            assert got[:-1] == list(part[:-1])
            if part:  # a missing final newline is added, nothing else changes
                assert got[-1] == part[-1] or (
                    got[-1].startswith(part[-1]) and got[-1][len(part[-1]) :] in (b"\n", b"\r\n")
                )
            i += len(part)
            assert lines[i].rstrip(b"\r\n") == marker
            i += 1


# --- examples -------------------------------------------------------------------------

BASE = b"".join(b"line %d\n" % i for i in range(1, 11))


def test_non_overlapping_edits_merge_cleanly() -> None:
    ours = BASE.replace(b"line 2\n", b"ours 2\n")
    theirs = BASE.replace(b"line 8\n", b"theirs 8\n").replace(b"line 9\n", b"")
    result = merge_text(BASE, ours, theirs)
    assert result.clean
    assert result.conflicts == ()
    assert result.merged == BASE.replace(b"line 2\n", b"ours 2\n").replace(
        b"line 8\nline 9\n", b"theirs 8\n"
    )


def test_same_edit_on_both_sides_is_taken_once() -> None:
    edit = BASE.replace(b"line 5\n", b"both 5\nboth 5b\n")
    result = merge_text(BASE, edit, edit.replace(b"line 1\n", b"theirs 1\n"))
    assert result.clean
    assert result.merged == edit.replace(b"line 1\n", b"theirs 1\n")


def test_overlapping_different_edits_conflict_with_exact_markers() -> None:
    result = merge_text(b"a\nb\nc\nd\n", b"a\nB1\nc\nd\n", b"a\nB2\nc\nD\n")
    assert not result.clean
    assert result.merged == (
        b"a\n<<<<<<< local\nB1\n||||||| original\nb\n=======\nB2\n>>>>>>> new\nc\nD\n"
    )
    assert result.conflicts == (
        TextConflict(line=2, base=(b"b\n",), ours=(b"B1\n",), theirs=(b"B2\n",)),
    )


def test_adjacent_edits_conflict_like_diff3() -> None:
    result = merge_text(b"a\nb\nc\nd\n", b"a\nB\nc\nd\n", b"a\nb\nC\nd\n")
    assert result.merged == (
        b"a\n<<<<<<< local\nB\nc\n||||||| original\nb\nc\n=======\nb\nC\n>>>>>>> new\nd\n"
    )


def test_labels_and_line_numbers_of_several_conflicts() -> None:
    base = b"1\n2\n3\n4\n5\n"
    result = merge_text(
        base,
        b"x\n2\n3\n4\ny\n",
        b"X\n2\n3\n4\nY\n",
        base_label="B",
        ours_label="O",
        theirs_label="T",
    )
    assert [c.line for c in result.conflicts] == [1, 11]
    assert result.merged.splitlines()[10] == b"<<<<<<< O"
    assert b"||||||| B\n" in result.merged
    assert result.merged.endswith(b"=======\nY\n>>>>>>> T\n")


def test_delete_on_one_side_and_unchanged_other_is_deleted() -> None:
    ours = BASE.replace(b"line 3\nline 4\n", b"")
    assert merge_text(BASE, ours, BASE).merged == ours
    assert merge_text(BASE, BASE, ours).merged == ours


def test_crlf_files_keep_crlf() -> None:
    base = b"a\r\nb\r\nc\r\nd\r\ne\r\n"
    clean = merge_text(base, b"A\r\nb\r\nc\r\nd\r\ne\r\n", b"a\r\nb\r\nc\r\nd\r\nE\r\n")
    assert clean.merged == b"A\r\nb\r\nc\r\nd\r\nE\r\n"
    conflict = merge_text(base, b"a\r\nX\r\nc\r\nd\r\ne\r\n", b"a\r\nY\r\nc\r\nd\r\ne\r\n")
    assert conflict.merged == (
        b"a\r\n<<<<<<< local\r\nX\r\n||||||| original\r\nb\r\n=======\r\nY\r\n>>>>>>> new\r\n"
        b"c\r\nd\r\ne\r\n"
    )


def test_missing_final_newline_is_preserved() -> None:
    result = merge_text(b"a\nb\nc", b"A\nb\nc", b"a\nb\nC")
    assert result.merged == b"A\nb\nC"
    assert merge_text(b"a\nx\nb\n", b"a\nx\nb", b"A\nx\nb\n").merged == b"A\nx\nb"


def test_conflict_on_last_line_without_newline_keeps_markers_on_own_lines() -> None:
    result = merge_text(b"a\nb", b"a\nB", b"a\nC")
    assert result.merged == b"a\n<<<<<<< local\nB\n||||||| original\nb\n=======\nC\n>>>>>>> new\n"
    assert result.conflicts[0].ours == (b"B",)
    check_markers(result)


def test_add_add_with_empty_base() -> None:
    same = b"x\ny\n"
    assert merge_text(b"", same, same) == TextMergeResult(merged=same, conflicts=())
    assert merge_text(b"", b"", b"") == TextMergeResult(merged=b"", conflicts=())
    result = merge_text(b"", b"x\ny\nz\n", b"x\nY\nz\n")
    assert result.merged == b"x\n<<<<<<< local\ny\n||||||| original\n=======\nY\n>>>>>>> new\nz\n"
    assert result.conflicts == (TextConflict(line=2, base=(), ours=(b"y\n",), theirs=(b"Y\n",)),)


def test_ten_thousand_lines_merge_fast() -> None:
    # Repeated lines ("}", blanks) make difflib quadratic; the Myers path must not be.
    lines = [
        b"}\n" if i % 7 == 0 else b"\n" if i % 7 == 1 else b"x = %d;\n" % i for i in range(10_000)
    ]
    ours, theirs = list(lines), list(lines)
    for i in (100, 3000, 9000):
        ours[i] = b"ours\n"
    for i in (500, 5000, 8000):
        theirs[i] = b"theirs\n"
    ours.insert(4000, b"new\n")
    del theirs[7000:7010]
    args = (b"".join(lines), b"".join(ours), b"".join(theirs))
    elapsed = []
    for _ in range(3):
        start = time.perf_counter()
        result = merge_text(*args)
        elapsed.append(time.perf_counter() - start)
    assert result.clean
    assert result.merged.count(b"ours\n") == 3 and result.merged.count(b"theirs\n") == 3
    assert min(elapsed) < 0.1


def test_heavily_rewritten_file_uses_fallback_and_stays_correct() -> None:
    base = b"".join(b"%d\n" % (i % 5) for i in range(3000))
    theirs = b"".join(b"%d\n" % (i % 3) for i in range(3000))
    assert merge_text(base, base, theirs).merged == theirs
    assert merge_text(base, theirs, theirs).merged == theirs
    check_markers(merge_text(base, theirs, base.replace(b"4\n", b"")))


# --- properties -----------------------------------------------------------------------


@LIMITS
@given(FILES, FILES)
def test_unchanged_ours_gives_theirs(limit: int, base: bytes, theirs: bytes) -> None:
    with myers_limit(limit):
        assert merge_text(base, base, theirs) == TextMergeResult(merged=theirs, conflicts=())


@LIMITS
@given(FILES, FILES)
def test_unchanged_theirs_gives_ours(limit: int, base: bytes, ours: bytes) -> None:
    with myers_limit(limit):
        assert merge_text(base, ours, base) == TextMergeResult(merged=ours, conflicts=())


@LIMITS
@given(FILES, FILES)
def test_same_change_on_both_sides_gives_it(limit: int, base: bytes, both: bytes) -> None:
    with myers_limit(limit):
        assert merge_text(base, both, both) == TextMergeResult(merged=both, conflicts=())


@LIMITS
@given(LINES, LINES, LINES, LINES, TAIL, TAIL)
def test_edits_to_disjoint_halves_both_land(
    limit: int,
    first: list[bytes],
    first_edit: list[bytes],
    second: list[bytes],
    second_edit: list[bytes],
    tail: bytes,
    tail_edit: bytes,
) -> None:
    # An untouched line between the halves keeps diff3 from seeing them as adjacent.
    base = b"".join([*first, SEP, *second, tail])
    ours = b"".join([*first_edit, SEP, *second, tail])
    theirs = b"".join([*first, SEP, *second_edit, tail_edit])
    with myers_limit(limit):
        result = merge_text(base, ours, theirs)
    assert result.clean
    assert result.merged == b"".join([*first_edit, SEP, *second_edit, tail_edit])


@LIMITS
@given(triples() | st.tuples(FILES, FILES, FILES))
def test_conflicts_are_well_formed(limit: int, files: tuple[bytes, bytes, bytes]) -> None:
    with myers_limit(limit):
        result = merge_text(*files)
    check_markers(result)
    assert result.clean == (b"<<<<<<<" not in result.merged)


@given(triples() | st.tuples(FILES, FILES, FILES))
def test_swapping_sides_mirrors_the_result(files: tuple[bytes, bytes, bytes]) -> None:
    base, ours, theirs = files
    forward = merge_text(base, ours, theirs)
    backward = merge_text(base, theirs, ours)
    assert forward.clean == backward.clean
    if forward.clean:
        assert forward.merged == backward.merged
    assert [(c.line, c.base, c.ours, c.theirs) for c in forward.conflicts] == [
        (c.line, c.base, c.theirs, c.ours) for c in backward.conflicts
    ]


def _lcs_length(a: list[bytes], b: list[bytes]) -> int:
    row = [0] * (len(b) + 1)
    for x in a:
        prev, row = row, [0]
        for j, y in enumerate(b):
            row.append(prev[j] + 1 if x == y else max(prev[j + 1], row[j]))
    return row[-1]


@LIMITS
@given(LINES, LINES)
def test_matching_blocks_are_valid_and_myers_is_optimal(
    limit: int, a: list[bytes], b: list[bytes]
) -> None:
    with myers_limit(limit):
        blocks = text._matching_blocks(a, b)
    ia = ib = 0
    for i, j, n in blocks:
        assert n > 0 and i >= ia and j >= ib
        assert a[i : i + n] == b[j : j + n]
        ia, ib = i + n, j + n
    assert ia <= len(a) and ib <= len(b)
    if limit:
        assert sum(n for _, _, n in blocks) == _lcs_length(a, b)


# --- is_text --------------------------------------------------------------------------


def test_jar_like_blob_is_not_text() -> None:
    jar = b"PK\x03\x04\x14\x00\x08\x08\x08\x00" + b"META-INF/MANIFEST.MF" + bytes(range(256))
    assert not is_text(jar)


def test_utf8_config_is_text() -> None:
    config = "# Réglages\nserver.port=8080\nname = café ☕\n".encode()
    assert is_text(config)
    assert is_text(b"")


def test_is_text_only_sniffs_the_first_8_kib() -> None:
    assert is_text(b"x" * 8192 + b"\0")
    assert not is_text(b"x" * 8191 + b"\0")
    assert is_text("latin-1 config: café\n".encode("latin-1"))  # encoding-agnostic by design
