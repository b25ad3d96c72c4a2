"""Tests for the .properties three-way merge (uplevel.merge.properties)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.corpus.scenarios import (
    S09,
    S10,
    Scenario,
    ours_09_untouched_by_upstream,
    ours_10_elsewhere,
)
from uplevel.merge.properties import merge_properties, parse_properties
from uplevel.merge.result import MergeResult, UnparsableInput


def _pair(s: Scenario) -> tuple[bytes, bytes]:
    return s.base(), s.theirs()


def check(base: bytes, ours: bytes, theirs: bytes, expected_conflicts: set[str]) -> MergeResult:
    """Merged parses; ours-only and theirs-only changes are in it; conflicts are exactly these."""
    result = merge_properties(base, ours, theirs)
    b, o, t = (parse_properties(x) for x in (base, ours, theirs))
    m = parse_properties(result.merged)
    assert {c.path for c in result.conflicts} == expected_conflicts
    for key in {*b, *o, *t}:
        bv, ov, tv = b.get(key), o.get(key), t.get(key)
        if ov != bv and tv == bv:
            assert m.get(key) == ov, key
        elif tv != bv and ov == bv:
            assert m.get(key) == tv, key
        elif ov == tv:
            assert m.get(key) == ov, key
        else:
            assert key in expected_conflicts
            assert m.get(key) == ov, key  # the operator's value stays
    for c in result.conflicts:
        assert (c.base, c.ours, c.theirs) == (b.get(c.path), o.get(c.path), t.get(c.path))
    return result


# --- parser ------------------------------------------------------------------------------


def test_parser_follows_java_syntax() -> None:
    data = (
        b"# comment\n! bang comment\n  \n"
        b"a=1\nb = 2\nc: 3\nd 4\n  e\t=\t5  \n"
        b"f = one, \\\n    two, \\\n    three\n"
        b"g\\ h = x\\ty\\u0041\\\\\n"
        b"k\\:colon = v\n"
        b"empty\n"
        b"a = last wins"
    )
    assert parse_properties(data) == {
        "a": "last wins",
        "b": "2",
        "c": "3",
        "d": "4",
        "e": "5  ",
        "f": "one, two, three",
        "g h": "x\tyA\\",
        "k:colon": "v",
        "empty": "",
    }


def test_comment_lines_do_not_continue() -> None:
    assert parse_properties(b"# a comment \\\nx = 1\n") == {"x": "1"}


@pytest.mark.parametrize("bad", [b"a = \\u12\n", b"a = \\uZZZZ\n", b"a\0 = 1\n"])
def test_malformed_input_is_unparsable(bad: bytes) -> None:
    with pytest.raises(UnparsableInput) as info:
        merge_properties(b"a = 1\n", bad, b"a = 2\n")
    assert info.value.side == "ours"


# --- semantics -----------------------------------------------------------------------------


def test_trivial_cases_return_a_side_exactly() -> None:
    b, o, t = b"a=1\n", b"a = 1\n# x\n", b"a=2"
    assert merge_properties(b, b, t).merged == t
    assert merge_properties(b, o, b).merged == o
    assert merge_properties(b, o, o).merged == o


def test_setting_level_rules() -> None:
    base = b"a = 1\nb = 2\nc = 3\nd = 4\ne = 5\n"
    ours = b"a = 10\nb = 2\nc = 30\nd = 4\ne = 5\nnew.ours = o\n"
    theirs = b"a = 1\nb = 20\nc = 31\ne = 50\nnew.theirs = t\n"
    result = check(base, ours, theirs, {"c"})
    assert result.merged == b"a = 10\nb = 20\nc = 30\ne = 50\nnew.theirs = t\nnew.ours = o\n"
    (conflict,) = result.conflicts
    assert conflict.to_dict() == {"path": "c", "base": "3", "ours": "30", "theirs": "31"}


def test_delete_against_change_conflicts_both_ways() -> None:
    base = b"a = 1\nb = 2\n"
    check(base, b"b = 2\n", b"a = 9\nb = 2\n", {"a"})
    result = check(base, b"a = 9\nb = 2\n", b"b = 2\n", {"a"})
    assert result.merged == b"a = 9\nb = 2\n"


def test_formatting_only_is_never_a_conflict() -> None:
    base = b"a = 1\nb = 2\n"
    ours = b"b:2\n# operator: reordered\na    1\n"
    theirs = b"a = 1\nb = 3\n"
    result = check(base, ours, theirs, set())
    assert result.merged == b"b = 3\n# operator: reordered\na    1\n"


def test_structural_path_keeps_untouched_bytes_and_no_final_newline() -> None:
    base = b"x=1\r\ny=2\r\nz=3"
    ours = b"x = 1\r\ny = 2\r\nz = 4"  # reformatted and a change: the line merge conflicts
    theirs = b"x=1\ny=5\nz=3\nw=6\n"
    result = check(base, ours, theirs, set())
    assert result.merged == b"x = 1\r\ny=5\r\nz = 4\r\nw=6"


def test_added_keys_go_where_upstream_put_them_with_their_comments() -> None:
    base = b"a = 1\n\nb = 2\n"
    ours = b"a=1\n\nb=2\n"
    theirs = b"a = 1\n\n# new one\nn = 9\n\nb = 2\n"
    result = check(base, ours, theirs, set())
    # upstream's blank line before the new block comes too (it used to be lost)
    assert result.merged == b"a=1\n\n# new one\nn = 9\n\nb=2\n"


def test_continuation_value_changes_are_one_setting() -> None:
    base = b"list = a, \\\n  b\nz = 1\n"
    ours = b"list = a, \\\n  b\nz = 2\n"
    theirs = b"list = a, \\\n  b, \\\n  c\nz = 1\n"
    result = check(base, ours, theirs, set())
    assert result.merged == theirs.replace(b"z = 1", b"z = 2")


# --- corpus ------------------------------------------------------------------------------


def test_corpus_09_operator_customisations() -> None:
    base, theirs = _pair(S09)
    # log file path, thresholds and levels, syslog host, an own logger
    ours = S09.ours()
    assert b"logger.synapse-wire.level = OFF\n" in ours and b"logger.acme.name" in ours
    assert ours != base
    # theirs commented those three out; ours changed them: delete-vs-change conflicts
    result = check(
        base,
        ours,
        theirs,
        {"logger.synapse-wire.level", "logger.org-wso2.level", "appender.CARBON_SYS_LOG.host"},
    )
    merged = parse_properties(result.merged)
    assert merged["logger.acme.level"] == "DEBUG"
    assert "appender.CARBON_SYS_LOG.facility" not in merged
    assert b"# appender.CARBON_SYS_LOG.facility = USER\n" in result.merged  # upstream's comment


def test_corpus_09_untouched_by_upstream_is_clean() -> None:
    base, theirs = _pair(S09)
    ours = ours_09_untouched_by_upstream(base)
    result = check(base, ours, theirs, set())
    assert result.merged.count(b"\n") == theirs.count(b"\n")


def test_corpus_10_loggers_list() -> None:
    base, theirs = _pair(S10)
    # the operator adds its own logger and appends it to the loggers list: conflict with
    # upstream's four new loggers on the list (plain value), their definitions still merge
    ours = S10.ours()
    result = check(base, ours, theirs, {"loggers"})
    merged = parse_properties(result.merged)
    assert merged["logger.org-wso2-carbon-event.level"] == "WARN"
    assert merged["loggers"].endswith("acme")


def test_corpus_10_operator_changes_elsewhere_take_upstream_layout() -> None:
    base, theirs = _pair(S10)
    ours = ours_10_elsewhere(base)
    assert ours != base
    result = check(base, ours, theirs, set())
    assert b"\nlogger.org-wso2-carbon-event.name = org.wso2.carbon.event\n" in result.merged


# --- properties ------------------------------------------------------------------------------

KEYS = st.sampled_from(["a", "b", "c.d", "e"])
VALUES = st.sampled_from(["1", "2", "x y", ""])


@st.composite
def line(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["kv", "kv", "kv", "comment", "blank", "cont"]))
    if kind == "comment":
        return b"# " + draw(KEYS).encode() + b"\n"
    if kind == "blank":
        return b"\n"
    key, value = draw(KEYS).encode(), draw(VALUES).encode()
    sep = draw(st.sampled_from([b"=", b" = ", b": ", b" "]))
    if kind == "cont":
        return key + sep + value + b", \\\n   " + value + b"\n"
    return key + sep + value + b"\n"


DOCS = st.lists(line(), max_size=8)


@st.composite
def triples(draw: st.DrawFn) -> tuple[bytes, bytes, bytes]:
    base = draw(DOCS)

    def edit() -> bytes:
        out = list(base)
        for _ in range(draw(st.integers(0, 3))):
            i = draw(st.integers(0, len(out)))
            out[i : i + draw(st.integers(0, 2))] = draw(st.lists(line(), max_size=2))
        data = b"".join(out)
        return data.rstrip(b"\n") if draw(st.booleans()) else data

    return b"".join(base), edit(), edit()


@settings(max_examples=150, deadline=None)
@given(triples())
def test_identity_laws(tri: tuple[bytes, bytes, bytes]) -> None:
    b, x, y = tri
    assert merge_properties(b, b, y).merged == y
    assert merge_properties(b, x, b).merged == x
    assert merge_properties(b, x, x).merged == x


@settings(max_examples=300, deadline=None)
@given(triples())
def test_merge_follows_setting_rules_and_is_symmetric(tri: tuple[bytes, bytes, bytes]) -> None:
    b, o, t = tri
    bm, om, tm = (parse_properties(x) for x in tri)
    expected = {
        k
        for k in {*bm, *om, *tm}
        if om.get(k) != tm.get(k) and om.get(k) != bm.get(k) and tm.get(k) != bm.get(k)
    }
    forward = check(b, o, t, expected)
    backward = merge_properties(b, t, o)
    assert {c.path for c in backward.conflicts} == expected
    if forward.clean:
        assert parse_properties(forward.merged) == parse_properties(backward.merged)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=60), st.binary(max_size=60))
def test_garbage_gives_unparsable_or_a_result(x: bytes, y: bytes) -> None:
    for args in ((x, y, b"a=1\n"), (b"a=1\n", x, y), (y, b"a = 1\n", x)):
        try:
            result = merge_properties(*args)
        except UnparsableInput:
            continue
        assert isinstance(result.merged, bytes)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab=:\\u0 #!\n\r\t", max_size=40))
def test_garbage_text_parses_or_is_refused(text: str) -> None:
    try:
        parse_properties(text.encode())
    except UnparsableInput as exc:
        assert exc.side == "input"


# --- layout of the edited file (the line merge conflicts, ours is edited line by line) --------


def test_a_line_upstream_only_respaced_reads_as_upstream_wrote_it() -> None:
    base = b"a=1\nb=2\nc=3\n"
    ours = b"a=1\nb=2\nc=30\n# operator\n"
    theirs = b"a = 1\nb=2\nc = 3\n"
    result = check(base, ours, theirs, set())
    # a: only upstream touched the line; c: the operator's line stays
    assert result.merged == b"a = 1\nb=2\nc=30\n# operator\n"


def test_upstream_comment_leads_in_to_its_key_where_the_operator_moved_it() -> None:
    base = b"a = 1\nc = 3\n"
    ours = b"c = 3\na = 1\nx = 1\n"  # reordered, one key added
    theirs = b"# doc of a\na = 1\n# doc of c\nc = 4\n"
    result = check(base, ours, theirs, set())
    assert result.merged == b"# doc of c\nc = 4\n# doc of a\na = 1\nx = 1\n"


@pytest.mark.parametrize("ours", [b"a = 2\\", b"a = 2\\\n"])
def test_a_continuation_that_ends_the_file_does_not_swallow_a_line_put_after_it(
    ours: bytes,
) -> None:
    result = check(b"a = 1\n", ours, b"a = 1\nb = 2\n", set())
    assert result.merged == b"a = 2\nb = 2" + (b"\n" if ours.endswith(b"\n") else b"")
